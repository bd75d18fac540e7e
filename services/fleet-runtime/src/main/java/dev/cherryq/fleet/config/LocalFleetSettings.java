package dev.cherryq.fleet.config;

import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The settings of a fleet on this machine: one Kafka bootstrap address, the filesystem store and the work folder
 * under one root folder ({@code root/store}, {@code root/work}), the folders requests may read models and text from,
 * and HTTP on 127.0.0.1 at a free port. The launcher's fleets ({@code cherryq run}, the benchmarks) and the tests'
 * fleet harness start from these; {@code scripts/fleet-local} exports the same keys.
 */
public final class LocalFleetSettings {

    private LocalFleetSettings() {}

    /**
     * The settings as a mutable map of {@code CHERRYQ_*} keys, for a caller to add its own.
     *
     * @param modelRoot the folder requests may read models from
     * @param dataRoots the folders requests may read text from, in order, each once
     */
    public static Map<String, String> of(String bootstrapServers, Path root, Path modelRoot,
            Collection<Path> dataRoots) {
        Set<String> data = new LinkedHashSet<>();
        dataRoots.forEach(folder -> data.add(folder.toString()));
        Map<String, String> settings = new HashMap<>();
        settings.put(FleetConfig.BOOTSTRAP_SERVERS.name(), bootstrapServers);
        settings.put(FleetConfig.STORE.name(), "filesystem");
        settings.put(FleetConfig.STORE_DIR.name(), root.resolve("store").toString());
        settings.put(FleetConfig.WORK_DIR.name(), root.resolve("work").toString());
        settings.put(FleetConfig.MODEL_ROOTS.name(), modelRoot.toString());
        settings.put(FleetConfig.DATA_ROOTS.name(), String.join(",", data));
        settings.put(FleetConfig.HTTP_HOST.name(), "127.0.0.1");
        settings.put(FleetConfig.HTTP_PORT.name(), "0");
        return settings;
    }
}
