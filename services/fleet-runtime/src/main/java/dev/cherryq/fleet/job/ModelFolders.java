package dev.cherryq.fleet.job;

import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.TensorRef;
import java.io.IOException;
import java.nio.file.Path;

/** A local folder for a model reference: an input model from an allowed root, or a fleet-written one, verified. */
public final class ModelFolders {

    private ModelFolders() {}

    public static Path local(FleetContext fleet, ModelRef model) throws IOException {
        if (model.getFilesCount() == 0) {
            return fleet.resolver().model(model.getUri());
        }
        Path folder = null;
        for (TensorRef file : model.getFilesList()) {
            Path local = fleet.store().fetch(file, fleet.downloads()); // sha256-checked
            if (folder != null && !local.getParent().equals(folder)) {
                throw new IntegrityException(model.getUri() + ": model files are not in one folder");
            }
            folder = local.getParent();
        }
        return folder;
    }
}
