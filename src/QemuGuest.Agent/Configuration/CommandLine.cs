using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace QemuGuest.Agent.Configuration;

/// <summary>What <see cref="CommandLine.Parse"/> decided.</summary>
public enum CommandLineAction
{
    /// <summary>Run the agent with <see cref="CommandLineResult.Config"/>.</summary>
    Run,

    /// <summary>Print <see cref="CommandLineResult.Stdout"/> / <see cref="CommandLineResult.Stderr"/> and exit.</summary>
    Exit,

    /// <summary>-b help / -a help: print the command names, one a line, and exit 0.</summary>
    ListCommands,
}

public sealed class CommandLineResult
{
    public CommandLineAction Action { get; init; }

    public AgentConfig Config { get; init; } = new();

    public int ExitCode { get; init; }

    public string Stdout { get; init; } = string.Empty;

    public string Stderr { get; init; } = string.Empty;
}

/// <summary>
/// qemu-ga's command line, parsed the way glibc getopt_long parses
/// "hVvdc:m:p:l:f:F::b:a:s:t:Dr": bundled short flags (-vd), attached or separate
/// arguments (-mfoo, -m foo), -F's argument only when attached (-F/path), --long=value
/// and --long value, unique long-option prefixes, "--" ending options. The default
/// keyfile (QGA_CONF or /etc/qemu/qemu-ga.conf, optional) or the one named by -c
/// (required) is read first; the command line then overrides it, lists accumulate.
/// </summary>
public static class CommandLine
{
    private const string ProgramName = "qemu-ga";

    private sealed record Option(char Short, string Long, int HasArg);

    // HasArg: 0 none, 1 required, 2 optional (attached only).
    private static readonly Option[] Options =
    {
        new('h', "help", 0),
        new('V', "version", 0),
        new('D', "dump-conf", 0),
        new('c', "config", 1),
        new('l', "logfile", 1),
        new('f', "pidfile", 1),
        new('F', "fsfreeze-hook", 2),
        new('v', "verbose", 0),
        new('m', "method", 1),
        new('p', "path", 1),
        new('d', "daemonize", 0),
        new('b', "block-rpcs", 1),
        new('a', "allow-rpcs", 1),
        new('s', "service", 1),
        new('t', "statedir", 1),
        new('r', "retry-path", 0),
    };

    public static CommandLineResult Parse(IReadOnlyList<string> args, Func<string, string?> getEnv, Func<string, string?> readFile)
    {
        var parsed = new List<(char Opt, string? Arg)>();
        var err = new StringBuilder();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                break;
            }

            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                string body = a.Substring(2);
                string? value = null;
                int eq = body.IndexOf('=');
                if (eq >= 0)
                {
                    value = body.Substring(eq + 1);
                    body = body.Substring(0, eq);
                }

                Option? opt = FindLong(body, out bool ambiguous);
                if (opt is null)
                {
                    err.Append(ambiguous
                        ? $"{ProgramName}: option '--{body}' is ambiguous\n"
                        : $"{ProgramName}: unrecognized option '--{body}'\n");
                    return Unknown(err);
                }

                if (opt.HasArg == 0 && value is not null)
                {
                    err.Append($"{ProgramName}: option '--{opt.Long}' doesn't allow an argument\n");
                    return Unknown(err);
                }

                if (opt.HasArg == 1 && value is null)
                {
                    if (i + 1 >= args.Count)
                    {
                        err.Append($"{ProgramName}: option '--{opt.Long}' requires an argument\n");
                        return Unknown(err);
                    }

                    value = args[++i];
                }

                parsed.Add((opt.Short, value));
                continue;
            }

            if (a.Length < 2 || a[0] != '-')
            {
                continue; // getopt permutes non-options to the end; qemu-ga ignores them
            }

            for (int j = 1; j < a.Length; j++)
            {
                char c = a[j];
                Option? opt = FindShort(c);
                if (opt is null)
                {
                    err.Append($"{ProgramName}: invalid option -- '{c}'\n");
                    return Unknown(err);
                }

                if (opt.HasArg == 0)
                {
                    parsed.Add((c, null));
                    continue;
                }

                string? value = j + 1 < a.Length ? a.Substring(j + 1) : null;
                if (value is null && opt.HasArg == 1)
                {
                    if (i + 1 >= args.Count)
                    {
                        err.Append($"{ProgramName}: option requires an argument -- '{c}'\n");
                        return Unknown(err);
                    }

                    value = args[++i];
                }

                parsed.Add((c, value));
                break;
            }
        }

        var config = new AgentConfig();

        // Config file first: -c FILE (required) or QGA_CONF / the default path (optional).
        string? explicitConf = null;
        foreach (var (o, v) in parsed)
        {
            if (o == 'c')
            {
                explicitConf = v;
            }
        }

        string confPath = explicitConf ?? getEnv("QGA_CONF") ?? AgentConfig.DefaultConfigFile;
        string? confText;
        try
        {
            confText = readFile(confPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Fail($"error loading configuration from path: {confPath}, {ex.Message}\n");
        }

        if (confText is null && explicitConf is not null)
        {
            return Fail($"error loading configuration from path: {confPath}, No such file or directory\n");
        }

        if (confText is not null)
        {
            try
            {
                config.Load(KeyFile.Parse(confText));
            }
            catch (FormatException ex)
            {
                return Fail($"error loading configuration from path: {confPath}, {ex.Message}\n");
            }
        }

        foreach (var (o, v) in parsed)
        {
            switch (o)
            {
                case 'm':
                    config.Method = v;
                    break;
                case 'p':
                    config.ChannelPath = v;
                    break;
                case 'l':
                    config.LogFile = v;
                    break;
                case 'f':
                    config.PidFile = v;
                    break;
                case 'F':
                    config.FsfreezeHook = v ?? AgentConfig.DefaultFsfreezeHook;
                    break;
                case 't':
                    config.StateDir = v;
                    break;
                case 'v':
                    config.Verbose = true;
                    break;
                case 'V':
                    return new CommandLineResult { Action = CommandLineAction.Exit, ExitCode = 0, Stdout = "QEMU Guest Agent " + AgentInfo.Version + "\n" };
                case 'd':
                    config.Daemonize = true;
                    break;
                case 'D':
                    config.DumpConf = true;
                    break;
                case 'r':
                    config.RetryPath = true;
                    break;
                case 'b':
                case 'a':
                    if (v is "help" or "?")
                    {
                        return new CommandLineResult { Action = CommandLineAction.ListCommands, Config = config };
                    }

                    (o == 'b' ? config.BlockedRpcs : config.AllowedRpcs).AddRange(AgentConfig.SplitRpcList(v!, ','));
                    break;
                case 's':
                    if (!OperatingSystem.IsWindows())
                    {
                        err.Append($"{ProgramName}: invalid option -- 's'\n");
                        return Unknown(err);
                    }

                    if (v is not ("install" or "uninstall" or "vss-install" or "vss-uninstall"))
                    {
                        return new CommandLineResult { Action = CommandLineAction.Exit, ExitCode = 1, Stdout = "Unknown service command.\n" };
                    }

                    config.Service = v;
                    break;
                case 'h':
                    return new CommandLineResult { Action = CommandLineAction.Exit, ExitCode = 0, Stdout = Usage() };
            }
        }

        return new CommandLineResult { Action = CommandLineAction.Run, Config = config };
    }

    private static CommandLineResult Unknown(StringBuilder err) => new()
    {
        Action = CommandLineAction.Exit,
        ExitCode = 1,
        Stderr = err.ToString(),
        Stdout = $"Unknown option, try '{ProgramName} --help' for more information.\n",
    };

    private static CommandLineResult Fail(string stderr) => new()
    {
        Action = CommandLineAction.Exit,
        ExitCode = 1,
        Stderr = stderr,
    };

    private static Option? FindShort(char c)
    {
        foreach (var o in Options)
        {
            if (o.Short == c)
            {
                return o;
            }
        }

        return null;
    }

    private static Option? FindLong(string name, out bool ambiguous)
    {
        ambiguous = false;
        Option? prefixMatch = null;
        foreach (var o in Options)
        {
            if (o.Long == name)
            {
                return o;
            }

            if (o.Long.StartsWith(name, StringComparison.Ordinal) && name.Length > 0)
            {
                if (prefixMatch is not null)
                {
                    ambiguous = true;
                }

                prefixMatch = o;
            }
        }

        return ambiguous ? null : prefixMatch;
    }

    public static string Usage() =>
        "Usage: " + ProgramName + " [-m <method> -p <path>] [<options>]\n" +
        "QEMU Guest Agent " + AgentInfo.Version + " (QemuGuest.Agent)\n" +
        "\n" +
        "  -c, --config      configuration file path (default is\n" +
        "                    " + AgentConfig.DefaultConfigFile + ")\n" +
        "  -m, --method      transport method: one of unix-listen, virtio-serial,\n" +
        "                    isa-serial, or vsock-listen (virtio-serial is the default)\n" +
        "  -p, --path        device/socket path (the default for virtio-serial is:\n" +
        "                    " + AgentConfig.DefaultVirtioPath + ",\n" +
        "                    the default for isa-serial is:\n" +
        "                    " + AgentConfig.DefaultSerialPath + ").\n" +
        "                    Socket addresses for vsock-listen are written as\n" +
        "                    <cid>:<port>.\n" +
        "  -l, --logfile     set logfile path, logs to stderr by default\n" +
        "  -f, --pidfile     specify pidfile (default is " + AgentConfig.DefaultPidFile + ")\n" +
        "  -F, --fsfreeze-hook\n" +
        "                    enable fsfreeze hook. Accepts an optional argument that\n" +
        "                    specifies script to run on freeze/thaw. Script will be\n" +
        "                    called with 'freeze'/'thaw' arguments accordingly.\n" +
        "                    (default is " + AgentConfig.DefaultFsfreezeHook + ")\n" +
        "                    If using -F with an argument, do not follow -F with a\n" +
        "                    space.\n" +
        "                    (for example: -F/var/run/fsfreezehook.sh)\n" +
        "  -t, --statedir    specify dir to store state information (absolute paths\n" +
        "                    only, default is " + AgentConfig.DefaultStateDir + ")\n" +
        "  -v, --verbose     log extra debugging information\n" +
        "  -V, --version     print version information and exit\n" +
        "  -d, --daemonize   become a daemon\n" +
        (OperatingSystem.IsWindows() ? "  -s, --service     service commands: install, uninstall\n" : string.Empty) +
        "  -b, --block-rpcs  comma-separated list of RPCs to disable (no spaces,\n" +
        "                    use \"help\" to list available RPCs)\n" +
        "  -a, --allow-rpcs  comma-separated list of RPCs to enable (no spaces,\n" +
        "                    use \"help\" to list available RPCs)\n" +
        "                    -a and -b also take PREFIX* and @CLASS entries, CLASS\n" +
        "                    one of info, file-read, file-write, exec, system\n" +
        "                    (e.g. -b @exec); an entry matching nothing is an error\n" +
        "  -D, --dump-conf   dump a qemu-ga config file based on current config\n" +
        "                    options / command-line parameters to stdout\n" +
        "  -r, --retry-path  attempt re-opening path if it's unavailable or closed\n" +
        "                    due to an error which may be recoverable in the future\n" +
        "                    (virtio-serial driver re-install, serial device hot\n" +
        "                    plug/unplug, etc.)\n" +
        "  -h, --help        display this help and exit\n";
}
