using System;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>
/// <c>dotnet QemuGuest.HostileAgent.dll --socket PATH --mode MODE [--mode-file FILE]</c>: serves
/// until killed (SIGTERM/SIGINT end it cleanly and remove the socket). With --mode-file, the mode is re-read from that
/// file before every request, so a test can turn the agent hostile and back without restarting it.
/// <c>--wine [AGENT-ARGUMENT...]</c>: our Windows agent under Wine (<see cref="WineAgent"/>, with
/// the arguments added to its command line), for Pester: prints "listening SOCKET" once the agent
/// answers, and stops it all when its standard input closes or on SIGTERM/SIGINT.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--wine")
        {
            return ServeWineAgent(args[1..]);
        }

        string? socket = null, mode = "normal", modeFile = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--socket" when i + 1 < args.Length:
                    socket = args[++i];
                    break;
                case "--mode" when i + 1 < args.Length:
                    mode = args[++i];
                    break;
                case "--mode-file" when i + 1 < args.Length:
                    modeFile = args[++i];
                    break;
                default:
                    Console.Error.WriteLine("usage: QemuGuest.HostileAgent --socket PATH [--mode MODE] [--mode-file FILE]\nmodes:");
                    foreach (var (name, text) in HostileModes.All)
                    {
                        Console.Error.WriteLine("  " + name.PadRight(14) + text);
                    }

                    return 2;
            }
        }

        if (socket is null || !HostileModes.All.ContainsKey(mode))
        {
            Console.Error.WriteLine("--socket is required and --mode must be one of: " + string.Join(", ", HostileModes.All.Keys));
            return 2;
        }

        await using var agent = new FakeAgent(socket);
        HostileModes.Apply(agent, mode);
        if (modeFile is not null)
        {
            var configured = agent.Handler;
            string current = mode;
            agent.Handler = r =>
            {
                string wanted = System.IO.File.Exists(modeFile) ? System.IO.File.ReadAllText(modeFile).Trim() : mode;
                if (wanted != current && HostileModes.All.ContainsKey(wanted))
                {
                    current = wanted;
                    var wrapper = agent.Handler;
                    HostileModes.Apply(agent, wanted);
                    configured = agent.Handler;
                    agent.Handler = wrapper;
                }

                return configured(r);
            };
        }

        Console.WriteLine("listening " + socket + " mode " + mode);
        using var done = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            done.Cancel();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => done.Cancel();
        try
        {
            await Task.Delay(Timeout.Infinite, done.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }

    private static int ServeWineAgent(string[] agentArgs)
    {
        if (WineAgent.UnavailableReason() is { } reason)
        {
            Console.Error.WriteLine(reason);
            return 3;
        }

        using var wine = WineAgent.Start(agentArgs);
        wine.WaitUntilAnswering(WineAgent.StepTimeout);
        Console.WriteLine("listening " + wine.SocketPath);
        var done = new ManualResetEventSlim();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            done.Set();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => done.Set();
        new Thread(() =>
        {
            // The launcher closes our standard input to stop us (it cannot send SIGTERM portably).
            while (Console.In.ReadLine() is not null)
            {
            }

            done.Set();
        })
        { IsBackground = true }.Start();
        done.Wait();
        return 0;
    }
}
