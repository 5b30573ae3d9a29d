using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Relay.Tests.Fixtures;

/// <summary>A scratch directory per test, removed afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        // Short: unix socket paths are limited to 108 bytes.
        Path = System.IO.Path.Combine("/tmp", "qgr-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A child process killed (by its own pid) on dispose; output kept for diagnostics.</summary>
public class ChildProcess : IDisposable
{
    private readonly StringBuilder _output = new();

    protected ChildProcess(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public void Kill()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                Process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public virtual void Dispose()
    {
        Kill();
        Process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 1_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }
}

/// <summary>Debian's qemu-ga in unix-listen mode, standing in for a VM's agent chardev. Required: tests fail without it.</summary>
public sealed class StockAgent : ChildProcess
{
    public const string Binary = "/usr/sbin/qemu-ga";

    private StockAgent(string socket, string stateDir, string[] extra)
        : base(RequireBinary(), new[] { "-m", "unix-listen", "-p", socket, "-t", stateDir }.Concat(extra).ToArray())
    {
        Socket = socket;
    }

    public string Socket { get; }

    /// <summary>Starts qemu-ga; <paramref name="extra"/> adds options, e.g. "-b", "guest-sync-delimited".</summary>
    public static async Task<StockAgent> StartAsync(TempDir dir, string name, params string[] extra)
    {
        string state = dir[name + "-state"];
        Directory.CreateDirectory(state);
        var a = new StockAgent(dir[name + ".qga"], state, extra);
        await WaitForSocketAsync(a.Socket, a);
        return a;
    }

    internal static async Task WaitForSocketAsync(string path, ChildProcess p)
    {
        for (int i = 0; i < 200 && !File.Exists(path); i++)
        {
            if (p.Process.HasExited)
            {
                throw new InvalidOperationException("agent exited: " + p.Output);
            }

            await Task.Delay(25);
        }

        if (!File.Exists(path))
        {
            throw new TimeoutException("agent socket never appeared: " + path + "\n" + p.Output);
        }
    }

    private static string RequireBinary()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException(Binary + " is missing: install Debian's qemu-guest-agent (apt-get install qemu-guest-agent). These tests need it.");
        }

        return Binary;
    }
}

/// <summary>Our agent (QemuGuest.Agent) in unix-listen mode, as a real process.</summary>
public sealed class OurAgent : ChildProcess
{
    private OurAgent(string socket, string stateDir)
        : base("dotnet", new[] { Dll, "-m", "unix-listen", "-p", socket, "-t", stateDir })
    {
        Socket = socket;
    }

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "qemuguest-agent.dll");

    public string Socket { get; }

    public static async Task<OurAgent> StartAsync(TempDir dir, string name)
    {
        string state = dir[name + "-state"];
        Directory.CreateDirectory(state);
        var a = new OurAgent(dir[name + ".qga"], state);
        await StockAgent.WaitForSocketAsync(a.Socket, a);
        return a;
    }
}

/// <summary>The relay as a real process with a generated config.</summary>
public sealed class RelayProcess : ChildProcess
{
    private RelayProcess(string config, string runtime, IReadOnlyDictionary<string, string>? environment)
        : base("dotnet", new[] { RelayDll, "--config", config }, environment)
    {
        RuntimeDirectory = runtime;
    }

    public static string RelayDll => Path.Combine(AppContext.BaseDirectory, "qemuguest-relay.dll");

    public string RuntimeDirectory { get; }

    public string Socket(string vm, string endpoint = "") =>
        Path.Combine(RuntimeDirectory, vm + (endpoint.Length == 0 ? "" : "." + endpoint) + ".sock");

    public string Control => Path.Combine(RuntimeDirectory, "control.sock");

    /// <summary>Writes {"Relay": relay} (with fast test limits merged under the given ones) and starts the relay.</summary>
    public static async Task<RelayProcess> StartAsync(TempDir dir, Action<Dictionary<string, object?>> configure, IReadOnlyDictionary<string, string>? environment = null)
    {
        string runtime = dir["rt"];
        var limits = new Dictionary<string, object?>
        {
            ["FirstByteTimeoutSeconds"] = 2.0,
            ["LastByteTimeoutSeconds"] = 2.0,
            ["SyncTimeoutSeconds"] = 1.0,
            ["SyncAttempts"] = 2,
            ["NoResponseGraceSeconds"] = 1.0,
            ["QueueTimeoutSeconds"] = 20.0,
            ["ReconnectInitialSeconds"] = 0.05,
            ["ReconnectMaxSeconds"] = 0.5,
        };
        var relay = new Dictionary<string, object?>
        {
            ["RuntimeDirectory"] = runtime,
            ["Limits"] = limits,
            ["Vms"] = new Dictionary<string, object?>(),
        };
        configure(relay);
        var root = new Dictionary<string, object?>
        {
            ["Relay"] = relay,
            ["Logging"] = new Dictionary<string, object?> { ["LogLevel"] = new Dictionary<string, object?> { ["Default"] = "Information" } },
        };
        string config = dir["relay.json"];
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(root));
        var p = new RelayProcess(config, runtime, environment);
        await StockAgent.WaitForSocketAsync(p.Control, p);
        return p;
    }

    public static Dictionary<string, object?> Vm(string agent, params object[] endpoints)
    {
        var vm = new Dictionary<string, object?> { ["Agent"] = agent };
        if (endpoints.Length > 0)
        {
            vm["Endpoints"] = endpoints;
        }

        return vm;
    }

    public async Task<JsonDocument> ControlAsync(string command)
    {
        using var c = await TestClient.ConnectAsync(Control);
        return await c.RequestAsync("{\"execute\":\"" + command + "\"}");
    }

    /// <summary>The counters of one VM from relay-stats.</summary>
    public async Task<Dictionary<string, long>> StatsAsync(string vm)
    {
        using var d = await ControlAsync("relay-stats");
        foreach (var v in d.Return().GetProperty("vms").EnumerateArray())
        {
            if (v.GetProperty("name").GetString() == vm)
            {
                var result = new Dictionary<string, long>();
                foreach (var p in v.EnumerateObject())
                {
                    if (p.Value.ValueKind == JsonValueKind.Number)
                    {
                        result[p.Name] = p.Value.GetInt64();
                    }
                }

                return result;
            }
        }

        throw new InvalidOperationException("no VM " + vm);
    }

    public async Task WaitReadyAsync(string vm, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (DateTime.UtcNow < deadline)
        {
            using var d = await ControlAsync("relay-list-vms");
            foreach (var v in d.Return().EnumerateArray())
            {
                if (v.GetProperty("name").GetString() == vm && v.GetProperty("state").GetString() == "ready")
                {
                    return;
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("VM " + vm + " never ready\n" + Output);
    }

    /// <summary>Resident set size and its peak, from /proc.</summary>
    public (long Rss, long Peak) Memory()
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadAllLines($"/proc/{Process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = ParseKb(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = ParseKb(line);
            }
        }

        return (rss, peak);
    }

    private static long ParseKb(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
}

