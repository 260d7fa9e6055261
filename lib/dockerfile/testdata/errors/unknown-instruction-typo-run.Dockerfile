FROM busybox
RUNN echo
