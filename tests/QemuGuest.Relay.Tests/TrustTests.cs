using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Discovery;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// Issue 15 item 7: whoever owns the relay's runtime directory, a folder above it, or a
/// discovery folder could swap the sockets and impersonate the relay (to clients) or a VM (to
/// the relay). Each test plants what such a user would plant, for real: links, folders and
/// sockets owned by "nobody", group/other-writable folders. Run as root (chown needs it).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class RuntimeDirectoryTrustTests
{
    private const string Foreign = "nobody";

    [Fact]
    public async Task A_runtime_directory_that_is_a_link_is_refused_and_the_linked_folder_is_left_alone()
    {
        // Before: the relay created (existing: kept) the directory, chmod-ed it 0700 *through*
        // the link and put control.sock and every VM socket into the link owner's folder.
        using var dir = new TempDir();
        string evil = dir["evil"];
        Directory.CreateDirectory(evil);
        Chown(evil, Foreign);
        File.SetUnixFileMode(evil, (UnixFileMode)0x1FF);
        File.CreateSymbolicLink(dir["rt"], evil);

        var (code, text) = await RunRelayAsync(dir, dir["rt"]);

        Assert.Equal(3, code);
        Assert.Contains(dir["rt"], text);
        Assert.Contains("symbolic link", text);
        Assert.DoesNotContain("   at ", text); // one line, no stack trace
        Assert.Equal((UnixFileMode)0x1FF, File.GetUnixFileMode(evil));
        Assert.Empty(Directory.GetFileSystemEntries(evil));
    }

    [Theory]
    [InlineData("foreign-owner")]
    [InlineData("group-bits")]
    [InlineData("parent-writable")]
    public async Task An_untrusted_runtime_directory_is_refused_with_the_path_and_the_reason(string how)
    {
        using var dir = new TempDir();
        string rt = dir["rt"];
        string offender = rt;
        string reason;
        switch (how)
        {
            case "foreign-owner":
                Directory.CreateDirectory(rt, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Chown(rt, Foreign);
                reason = "is owned by nobody";
                break;
            case "group-bits":
                Directory.CreateDirectory(rt);
                File.SetUnixFileMode(rt, (UnixFileMode)0x1E8); // 0750
                reason = "has mode 0750";
                break;
            default:
                // Not created yet, but whoever can write the folder above could rename it later.
                offender = dir["shared"];
                Directory.CreateDirectory(offender);
                File.SetUnixFileMode(offender, (UnixFileMode)0x1FF); // 0777, no sticky bit
                rt = Path.Combine(offender, "rt");
                reason = "has mode 0777: writable by group or others";
                break;
        }

        var (code, text) = await RunRelayAsync(dir, rt);

        Assert.Equal(3, code);
        Assert.Contains(offender + ": " + reason, text);
        Assert.False(File.Exists(Path.Combine(rt, "control.sock")));
    }

    [Fact]
    public async Task A_fresh_runtime_directory_under_a_sticky_tmp_is_created_0700_and_served()
    {
        using var dir = new TempDir();
        using var relay = await RelayProcess.StartAsync(dir, _ => { });
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(relay.RuntimeDirectory));
        using var list = await relay.ControlAsync("relay-list-vms");
        Assert.False(relay.Process.HasExited, relay.Output);
    }

    internal static void Chown(string path, string user)
    {
        using var p = Process.Start(new ProcessStartInfo("chown", new[] { "-h", user, path }) { UseShellExecute = false })!;
        p.WaitForExit(10000);
        Assert.True(p.ExitCode == 0, "chown needs root: these tests plant files owned by another user");
    }

    private static async Task<(int Code, string Text)> RunRelayAsync(TempDir dir, string runtimeDirectory)
    {
        string config = dir["relay.json"];
        await File.WriteAllTextAsync(config, "{\"Relay\": {\"RuntimeDirectory\": \"" + runtimeDirectory + "\"}}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(RelayProcess.RelayDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(30000))
        {
            p.Kill();
            Assert.Fail("the relay started on an untrusted runtime directory instead of refusing:\n" + await stdout);
        }

        return (p.ExitCode, await stderr + await stdout);
    }
}

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DiscoveryTrustTests
{
    [Fact]
    public async Task A_discovery_folder_of_another_user_is_skipped_with_a_warning_unless_its_owner_is_trusted()
    {
        // Before: any *.sock in a listed folder became a VM, whoever had put it there.
        using var dir = new TempDir();
        string folder = dir["agents"];
        Directory.CreateDirectory(folder);
        await using var impostor = new FakeAgent(Path.Combine(folder, "web1.sock"), FakeAgent.Normal);
        RuntimeDirectoryTrustTests.Chown(impostor.SocketPath, "nobody");
        RuntimeDirectoryTrustTests.Chown(folder, "nobody");
        var o = new RelayOptions();
        o.Discovery.Directories.Add(folder);
        var log = new ListLogger();

        Assert.Empty(VmDiscovery.Scan(o, log));
        var warning = Assert.Single(log.Entries, e => e.Id == 402);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(folder, warning.Text);
        Assert.Contains("nobody", warning.Text);

        Assert.Empty(VmDiscovery.Scan(o, log));
        Assert.Single(log.Entries, e => e.Id == 402); // once, not once per rescan

        o.Discovery.TrustedOwners.Add("nobody");
        var found = Assert.Single(VmDiscovery.Scan(o, log));
        Assert.Equal("web1", found.Name);
    }

    [Fact]
    public async Task A_folder_others_may_write_and_a_linked_socket_are_skipped()
    {
        using var dir = new TempDir();
        string open = dir["open"];
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0x1FF); // 0777: anyone could drop web2.sock here
        await using var planted = new FakeAgent(Path.Combine(open, "web2.sock"), FakeAgent.Normal);

        string mine = dir["mine"];
        Directory.CreateDirectory(mine);
        await using var elsewhere = new FakeAgent(dir["elsewhere.sock"], FakeAgent.Normal);
        File.CreateSymbolicLink(Path.Combine(mine, "web3.sock"), elsewhere.SocketPath);
        await using var honest = new FakeAgent(Path.Combine(mine, "web4.sock"), FakeAgent.Normal);

        var o = new RelayOptions();
        o.Discovery.Directories.Add(open);
        o.Discovery.Directories.Add(mine);
        var log = new ListLogger();

        var found = VmDiscovery.Scan(o, log);

        Assert.Equal(new[] { "web4" }, found.Select(v => v.Name));
        Assert.Contains(log.Entries, e => e.Id == 402 && e.Text.Contains(open + " has mode 0777", StringComparison.Ordinal));
        Assert.Contains(log.Entries, e => e.Id == 402 && e.Text.Contains("web3.sock", StringComparison.Ordinal) && e.Text.Contains("symbolic link", StringComparison.Ordinal));
    }

    [Fact]
    public void A_trusted_owner_that_is_no_user_is_a_configuration_error()
    {
        var o = new RelayOptions();
        o.Discovery.TrustedOwners.Add("no-such-user-qg");
        o.Discovery.TrustedOwners.Add("65534");
        var r = new RelayOptionsValidator().Validate(null, o);
        Assert.True(r.Failed);
        Assert.Contains("'no-such-user-qg' is neither a user", string.Join("\n", r.Failures!));
        Assert.DoesNotContain("'65534'", string.Join("\n", r.Failures!));
    }

    internal sealed class ListLogger : ILogger
    {
        public List<(int Id, LogLevel Level, string Text)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((eventId.Id, logLevel, formatter(state, exception)));
            }
        }
    }
}

public class TcpExposureTests
{
    [Fact]
    public void A_tcp_endpoint_without_a_policy_needs_AllowUnrestricted()
    {
        var o = new RelayOptions();
        o.Vms["vm1"] = new VmOptions { Agent = "/run/x.qga", Endpoints = { new EndpointOptions { Name = "net", Tcp = "127.0.0.1:4000" } } };
        var r = new RelayOptionsValidator().Validate(null, o);
        Assert.True(r.Failed);
        Assert.Contains("endpoint 'net': Tcp '127.0.0.1:4000' has no Policy", string.Join("\n", r.Failures!));

        o.Vms["vm1"].Endpoints[0].AllowUnrestricted = true;
        Assert.True(new RelayOptionsValidator().Validate(null, o).Succeeded);
        o.Vms["vm1"].Endpoints[0] = new EndpointOptions { Name = "net", Tcp = "127.0.0.1:4000", Policy = "read-only" };
        Assert.True(new RelayOptionsValidator().Validate(null, o).Succeeded);
    }

    [Fact]
    public async Task The_relay_refuses_an_unrestricted_tcp_endpoint_and_warns_at_start_when_opted_in()
    {
        // Before: a loopback TCP endpoint without a policy let every local user run guest-exec
        // as root in the guest (a TCP port has no file permissions), silently.
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], FakeAgent.Normal);
        int port = FreePort();
        string config = dir["relay.json"];
        string endpoint = "{\"Name\": \"net\", \"Tcp\": \"127.0.0.1:" + port + "\", \"NoSocket\": true";
        await File.WriteAllTextAsync(config, "{\"Relay\": {\"RuntimeDirectory\": \"" + dir["rt"] + "\", \"Vms\": {\"vm\": {\"Agent\": \"" + agent.SocketPath + "\", \"Endpoints\": [" + endpoint + "}]}}}}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(RelayProcess.RelayDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        using (var p = Process.Start(psi)!)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            Assert.True(p.WaitForExit(30000));
            Assert.Equal(2, p.ExitCode);
            Assert.Contains("AllowUnrestricted", await stderr + await stdout);
        }

        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(
            agent.SocketPath,
            new Dictionary<string, object?> { ["Name"] = "net", ["Tcp"] = "127.0.0.1:" + port, ["NoSocket"] = true, ["AllowUnrestricted"] = true }));
        await relay.WaitReadyAsync("vm");
        Assert.Contains("QemuGuest.Relay.Vm[306] endpoint tcp:127.0.0.1:" + port + " of VM vm: TCP without authentication, every command allowed (AllowUnrestricted), any local user can connect", relay.Output);
        using var c = await TestClient.ConnectTcpAsync(new IPEndPoint(IPAddress.Loopback, port));
        using var reply = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/etc/passwd\"},\"id\":1}");
        Assert.Equal(1000, reply.Return().GetInt32());
    }

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}

public class RelayLogTextTests
{
    [Fact]
    public async Task Guest_text_quoted_in_relay_log_lines_is_printable()
    {
        // Before: the unexpected member's name went into the warning raw, so whoever tails the
        // relay's log (journalctl, a terminal) got the guest's title change and OSC 52 write.
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], r => r.Command == "guest-get-host-name"
            ? r.ReplyAsync("{\"return\": {\"host-name\": \"x\", \"pwn\\u001b]0;title\\u0007\\u001b]52;c;eA==\\u0007\": 1}}")
            : FakeAgent.Normal(r));
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var reply = await c.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":1}");
        Assert.NotNull(reply.ErrorClass());

        string log = "";
        for (int i = 0; i < 100 && !log.Contains("[206]", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
            log = relay.Output;
        }

        Assert.Contains("pwn\\u001b]0;title\\u0007\\u001b]52;c;eA==\\u0007", log);
        Assert.DoesNotContain('\u001b', log);
        Assert.DoesNotContain('\u0007', log);
    }
}
