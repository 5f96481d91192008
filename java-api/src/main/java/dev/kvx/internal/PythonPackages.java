package dev.kvx.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Asks a Python interpreter where its pip-installed packages are ({@code importlib.util.find_spec},
 * which does not import them), so kvx can load the NIXL and CUDA runtime libraries a serving container
 * already has from pip. Each query has a deadline.
 */
final class PythonPackages {
    private static final System.Logger LOG = System.getLogger(PythonPackages.class.getName());
    /** Package name → its folders, as Python would import it; {@code exe} → the interpreter. */
    private static final String SCRIPT = String.join("\n",
            "import importlib.util as u, sys",
            "for n in ('nixl_cu13', 'nixl_cu12', 'nixl', 'nvidia'):",
            "    try:",
            "        s = u.find_spec(n)",
            "    except Exception:",
            "        s = None",
            "    for p in (list(s.submodule_search_locations or []) if s else []):",
            "        print('pkg', n, p)",
            "print('exe', sys.executable)");
    static final long TIMEOUT_SECONDS = 10;

    /**
     * What one interpreter said.
     *
     * @param python the command asked
     * @param executable the interpreter's own path, or empty when it did not answer
     * @param packages package name → folders
     * @param problem why nothing came back, or empty
     */
    record Answer(String python, String executable, Map<String, List<Path>> packages, String problem) {}

    private PythonPackages() {}

    /** Runs the query with {@code python}; never throws. */
    static Answer query(String python) {
        Path out = null;
        try {
            out = Files.createTempFile("kvx-python", ".txt");
            Process p = new ProcessBuilder(python, "-c", SCRIPT).redirectErrorStream(true).redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Answer(python, "", Map.of(), "did not answer within " + TIMEOUT_SECONDS + " s");
            }
            List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                return new Answer(python, "", Map.of(), "exited with status " + p.exitValue() + ": " + String.join(" ", lines));
            }
            Map<String, List<Path>> pkgs = new LinkedHashMap<>();
            String exe = "";
            for (String line : lines) {
                String[] f = line.split(" ", 3);
                if (f[0].equals("pkg") && f.length == 3) {
                    pkgs.computeIfAbsent(f[1], k -> new ArrayList<>()).add(Path.of(f[2]));
                } else if (f[0].equals("exe") && f.length >= 2) {
                    exe = line.substring(4);
                }
            }
            LOG.log(System.Logger.Level.DEBUG, "{0} ({1}) has {2}", python, exe, pkgs);
            return new Answer(python, exe, pkgs, "");
        } catch (IOException e) {
            return new Answer(python, "", Map.of(), "cannot run: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Answer(python, "", Map.of(), "interrupted");
        } finally {
            if (out != null) {
                out.toFile().delete();
            }
        }
    }
}
