FROM busybox
CMD --help
