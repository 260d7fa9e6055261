FROM busybox
RUN --mount=type=cache,target=/x,color=red true
