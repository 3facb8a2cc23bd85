# Container image of the agent, installed from the release artifact (README, "Install").
# Run it with the Docker socket and the data directory mounted at the SAME path inside and outside: game-server
# bind mounts are resolved by the host's Engine, not inside this container.
#   docker run -d --name ctrl-alt-play-agent --restart unless-stopped -p 8081:8081 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/ctrl-alt-play-agent:/var/lib/ctrl-alt-play-agent \
#     ctrl-alt-play-agent
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md ./
COPY scripts ./scripts
COPY deploy ./deploy
COPY src ./src
# The artifact: prepack builds dist/ from scratch.
RUN npm pack --pack-destination /artifact && mv /artifact/ctrl-alt-play-agent-*.tgz /artifact/ctrl-alt-play-agent.tgz

FROM node:24-slim
ENV NODE_ENV=production AGENT_DATA_DIR=/var/lib/ctrl-alt-play-agent
WORKDIR /opt/ctrl-alt-play-agent
COPY --from=build /artifact/ctrl-alt-play-agent.tgz /tmp/
# The artifact unpacked, with the repository's lockfile: the image gets exactly the dependency versions CI tested
# (a tarball installed with npm install resolves its ranges anew). prepare is a no-op here: there is no src/.
COPY --from=build /src/package-lock.json ./
RUN tar -xzf /tmp/ctrl-alt-play-agent.tgz --strip-components=1 \
  && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force && rm /tmp/ctrl-alt-play-agent.tgz
EXPOSE 8081
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8081/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# No V8 flags here: the launcher (dist/cli/bin.js) checks the Node version, then re-executes itself with them.
ENTRYPOINT ["node", "/opt/ctrl-alt-play-agent/dist/cli/bin.js"]
CMD ["run"]
