package dev.kvx.cli.soak;

import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Path;

/** Reads and writes {@link ReportDocument} with Jackson; also the form safe to embed in an HTML {@code <script>}. */
final class ReportJson {
    private static final ObjectMapper MAPPER = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private ReportJson() {}

    static void write(ReportDocument doc, Path file) throws IOException {
        MAPPER.writeValue(file.toFile(), doc);
    }

    static ReportDocument read(Path file) throws IOException {
        return MAPPER.readValue(file.toFile(), ReportDocument.class);
    }

    static String toJson(ReportDocument doc) throws JsonProcessingException {
        return MAPPER.writeValueAsString(doc);
    }

    static ReportDocument fromJson(String json) throws JsonProcessingException {
        return MAPPER.readValue(json, ReportDocument.class);
    }

    /**
     * JSON that cannot end the {@code <script>} element it sits in: {@code <}, {@code >}, {@code &} and the
     * JavaScript line separators are written as {@code \}{@code uXXXX} escapes, which JSON.parse reads back.
     */
    static String forScript(Object value) throws JsonProcessingException {
        return MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).with(new ScriptSafe()).writeValueAsString(value);
    }

    /** Escapes for JSON inside HTML. */
    private static final class ScriptSafe extends CharacterEscapes {
        private static final long serialVersionUID = 1L;
        private final int[] table;

        ScriptSafe() {
            table = CharacterEscapes.standardAsciiEscapesForJSON();
            table['<'] = CharacterEscapes.ESCAPE_STANDARD;
            table['>'] = CharacterEscapes.ESCAPE_STANDARD;
            table['&'] = CharacterEscapes.ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return table;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return ch == 0x2028 || ch == 0x2029
                    ? new com.fasterxml.jackson.core.io.SerializedString(String.format("\\u%04x", ch)) : null;
        }
    }

}
