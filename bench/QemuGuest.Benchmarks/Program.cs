using BenchmarkDotNet.Running;

namespace QemuGuest.Benchmarks;

public static class Program
{
    /// <summary>
    /// One executable for both kinds of measurement, so the bench scripts build one project:
    /// the socket probes (ceiling, ping, pingceiling: see <see cref="SocketProbes"/>) print one
    /// JSON line each; anything else goes to BenchmarkDotNet.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && SocketProbes.IsProbe(args[0]))
        {
            return SocketProbes.Run(args);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
