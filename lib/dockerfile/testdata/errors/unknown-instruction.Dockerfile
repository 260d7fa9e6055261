FROM busybox
RUN true

FORM x
