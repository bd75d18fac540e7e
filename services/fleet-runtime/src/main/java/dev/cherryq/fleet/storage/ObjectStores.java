package dev.cherryq.fleet.storage;

import dev.cherryq.fleet.config.FleetConfig;
import java.io.IOException;

/** Opens the store a configuration names. */
public final class ObjectStores {

    private ObjectStores() {}

    public static ObjectStore open(FleetConfig config) throws IOException {
        return switch (config.store()) {
            case FILESYSTEM -> new FilesystemObjectStore(config.storeDirectory());
            case S3 -> new S3ObjectStore(config.s3());
        };
    }
}
