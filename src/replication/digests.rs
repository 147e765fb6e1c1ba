//! Digests across replicas (filled in below).
