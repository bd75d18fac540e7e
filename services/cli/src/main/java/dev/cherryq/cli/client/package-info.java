/**
 * The command line as a client of a running fleet: the gateway's connection options ({@link
 * dev.cherryq.cli.client.GatewayMixin}), and a job followed to its end with a progress line, over the gateway's
 * server-sent events or straight from Kafka's job events ({@link dev.cherryq.cli.client.JobFollow}). The clients
 * themselves are the launcher's {@code GatewayClient} (HTTP) and {@code KafkaJobClient} (the topics).
 */
package dev.cherryq.cli.client;
