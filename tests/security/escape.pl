# The double-chroot escape in perl, as a RUN on a perl image would try it. Builtins only: the test's perl
# image holds just the perl binary and the libraries it links. Prints one line in probe.c's format:
#   RESULT chroot-perl contained|escaped <detail>
# When it escapes it only reads the planted host file and creates the marker the test asked for.
my ($planted, $token, $marker) = @ARGV;
my @detail;
my $dir = "kiln-sec-perl-$$";
mkdir $dir, 0700;
if (chroot $dir) {
  rmdir $dir;
  chdir ".." for 1 .. 64;
  push @detail, chroot(".") ? "double chroot: ok" : "chroot .: $!";
  chdir "/";
} else {
  push @detail, "chroot: $!";
  rmdir $dir;
}
my $escaped = 0;
if (open(my $f, "<", $planted)) {
  local $/;
  my $content = <$f>;
  close $f;
  if (index($content, $token) >= 0) { $escaped = 1; push @detail, "read the planted host file $planted" }
  else { push @detail, "planted host file: other content" }
} else {
  push @detail, "planted host file: $!";
}
# O_WRONLY|O_CREAT|O_EXCL without the Fcntl module.
if (sysopen(my $m, $marker, 1 | 64 | 128, 0600)) { close $m; $escaped = 1; push @detail, "created $marker" }
else { push @detail, "creating the marker: $!" }
print "RESULT chroot-perl ", ($escaped ? "escaped" : "contained"), " ", join(";", @detail), "\n";
exit 0;
