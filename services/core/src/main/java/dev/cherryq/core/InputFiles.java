package dev.cherryq.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads user-supplied files. Every failure becomes a one-line {@link InvalidInputException} that names the file:
 * not found, unreadable, not UTF-8, not JSON.
 */
public final class InputFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private InputFiles() {}

    public static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(file + ": file not found");
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    public static String readText(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(file + ": file not found");
        } catch (MalformedInputException e) {
            throw new InvalidInputException(file + ": not valid UTF-8 text");
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The file's JSON tree; {@code what} names the expected content in messages (e.g. "tokenizer.json"). */
    public static JsonNode readJson(Path file, String what) {
        String text = readText(file);
        try {
            JsonNode root = JSON.readTree(text);
            if (root == null) {
                throw new InvalidInputException(file + ": empty file, expected " + what);
            }
            return root;
        } catch (IOException e) {
            throw new InvalidInputException(file + ": not valid JSON (" + what + "): "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}
