# check=error=true
FROM busybox
MAINTAINER me
