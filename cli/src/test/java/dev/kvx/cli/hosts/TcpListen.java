package dev.kvx.cli.hosts;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** A TCP listener run inside a namespace host by the tests: accepts and closes connections until killed. */
public final class TcpListen {
    private TcpListen() {}

    /** {@code TcpListen PORT}: prints "listening" once bound. */
    public static void main(String[] args) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("0.0.0.0", Integer.parseInt(args[0])));
            System.out.println("listening");
            System.out.flush();
            while (true) {
                try (Socket c = s.accept()) {
                    c.getOutputStream().write('k');
                }
            }
        }
    }
}
