# Container image of the agent. Run it with the Docker socket and the data directory mounted at the SAME path
# inside and outside: game-server bind mounts are resolved by the host's Engine, not inside this container.
#   docker run -d --name ctrl-alt-play-agent --restart unless-stopped -p 8081:8081 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/ctrl-alt-play-agent:/var/lib/ctrl-alt-play-agent \
#     ctrl-alt-play-agent
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production AGENT_DATA_DIR=/var/lib/ctrl-alt-play-agent
WORKDIR /opt/ctrl-alt-play-agent
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
EXPOSE 8081
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8081/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "--max-semi-space-size=1", "--no-maglev", "--invocation-count-for-turbofan=1000000", "--invocation-count-for-osr=500000", "--optimize-for-size", "dist/cli/bin.js"]
CMD ["run"]
