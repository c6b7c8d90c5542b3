"""The local single-node Apache Kafka broker (KRaft) and the project's topics."""
