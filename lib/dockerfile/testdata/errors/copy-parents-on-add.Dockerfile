FROM busybox
ADD --parents a b
