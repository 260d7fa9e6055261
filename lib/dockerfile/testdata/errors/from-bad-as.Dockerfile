FROM busybox AT build
