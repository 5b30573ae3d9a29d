using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using System.Threading.Tasks;

namespace QemuGuest.Relay.Tests.Fixtures;

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

    /// <summary>
    /// For tests that move data rather than test deadlines: the fast 2 s reply limits fail them
    /// on a loaded machine (a 3 MiB guest-file-write through qemu-ga took longer in CI at load 30).
    /// </summary>
    public static void PatientReplies(Dictionary<string, object?> relay)
    {
        var limits = (Dictionary<string, object?>)relay["Limits"]!;
        limits["FirstByteTimeoutSeconds"] = 60.0;
        limits["LastByteTimeoutSeconds"] = 60.0;
    }

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
        await WaitForSocketAsync(p.Control, p);
        return p;
    }

    /// <summary>
    /// How long a relay may take to start listening or to reach its agent. It starts in well
    /// under a second on an idle machine, but took over 10 s at the load of a CI run beside
    /// other builds (load average 77 on 2 cores); a relay that never starts still fails.
    /// </summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private static async Task WaitForSocketAsync(string path, ChildProcess p)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!File.Exists(path) && DateTime.UtcNow < deadline)
        {
            if (p.Process.HasExited)
            {
                throw new InvalidOperationException("relay exited: " + p.Output);
            }

            await Task.Delay(25);
        }

        if (!File.Exists(path))
        {
            throw new TimeoutException("relay socket never appeared within " + StartTimeout.TotalSeconds + " s: " + path + "\n" + p.Output);
        }
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
        var deadline = DateTime.UtcNow + (timeout ?? StartTimeout);
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
