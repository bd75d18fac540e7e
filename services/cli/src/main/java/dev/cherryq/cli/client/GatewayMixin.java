package dev.cherryq.cli.client;

import dev.cherryq.launcher.GatewayClient;
import picocli.CommandLine.Option;

/** The options that say where the gateway is and how to authenticate, shared by submit, status and watch. */
public final class GatewayMixin {

    @Option(names = "--gateway", description = "gateway URL (default: $CHERRYQ_GATEWAY_URL or http://127.0.0.1:8080)")
    String url;

    @Option(names = "--token", description = "bearer token (default: $CHERRYQ_GATEWAY_TOKEN)")
    String token;

    /** A client of the gateway these options name. */
    public GatewayClient client() {
        String base = url != null ? url : System.getenv().getOrDefault("CHERRYQ_GATEWAY_URL", "http://127.0.0.1:8080");
        return new GatewayClient(base, token != null ? token : System.getenv("CHERRYQ_GATEWAY_TOKEN"));
    }
}
