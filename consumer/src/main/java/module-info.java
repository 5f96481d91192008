/** A serving team's module that uses kvx. */
module dev.kvx.example {
    requires dev.kvx;
}
