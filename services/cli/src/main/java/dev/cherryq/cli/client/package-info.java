/**
 * The command line's clients of a running fleet: the gateway's connection options ({@link
 * dev.cherryq.cli.client.GatewayMixin}), a job followed over the gateway's HTTP API ({@link
 * dev.cherryq.cli.client.GatewayJobs}), and a request published and followed straight over Kafka ({@link
 * dev.cherryq.cli.client.KafkaJobClient}). The HTTP client itself is the launcher's {@code GatewayClient}.
 */
package dev.cherryq.cli.client;
