using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Discovery;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

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
