/** A serving team's module that uses kvx, and its Micrometer binding. */
module dev.kvx.example {
    requires dev.kvx;
    requires dev.kvx.micrometer; // brings micrometer.core with it
}
