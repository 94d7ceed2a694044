# llm-d-inference-sim as an image for the container tests: the simulator scripts/deps/
# inference-sim.sh builds from github.com/llm-d/llm-d-inference-sim (a static Go binary), alone
# in a scratch image, run as 65532. The build context is a folder holding that binary
# (e2e/lib/containers.ts makes it); no base image is pulled.
FROM scratch
COPY llm-d-inference-sim /llm-d-inference-sim
USER 65532:65532
ENTRYPOINT ["/llm-d-inference-sim"]
