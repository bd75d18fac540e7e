package dev.cherryq.fleet.task;

import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.util.List;
import java.util.Map;

/** Structural checks a consumer runs on every parsed message before a stage sees it. */
public final class MessageChecks {

    private MessageChecks() {}

    /** The path of the first enum field holding a number this schema does not know, or null. */
    public static String unknownEnumValue(Message message) {
        return unknownEnumValue(message, message.getDescriptorForType().getName());
    }

    private static String unknownEnumValue(Message message, String path) {
        for (Map.Entry<FieldDescriptor, Object> entry : message.getAllFields().entrySet()) {
            FieldDescriptor field = entry.getKey();
            String fieldPath = path + "." + field.getName();
            List<?> values = field.isRepeated() ? (List<?>) entry.getValue() : List.of(entry.getValue());
            for (Object value : values) {
                if (field.getJavaType() == FieldDescriptor.JavaType.ENUM) {
                    EnumValueDescriptor enumValue = (EnumValueDescriptor) value;
                    if (enumValue.getIndex() < 0 || field.getEnumType().findValueByNumber(enumValue.getNumber()) == null) {
                        return fieldPath + "=" + enumValue.getNumber();
                    }
                } else if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                    String found = unknownEnumValue((Message) value, fieldPath);
                    if (found != null) {
                        return found;
                    }
                }
            }
        }
        return null;
    }
}
