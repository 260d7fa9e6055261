FROM busybox
USER   
