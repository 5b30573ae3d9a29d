using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Qga;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Discovery;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Tests.Fixtures;
using QemuGuest.Relay.Wire;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace QemuGuest.Relay.Tests;

public class FairQueueTests
{
    [Fact]
    public async Task Serves_producers_round_robin()
    {
        var q = new FairQueue<string>(100, 10, 1 << 20);
        object a = new(), b = new(), c = new();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "a" + i, 1));
        }

        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "b0", 1));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(c, "c0", 1));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "b1", 1));
        var order = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            order.Add(await q.DequeueAsync(CancellationToken.None));
        }

        Assert.Equal(new[] { "a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4" }, order);
    }

    [Fact]
    public void Enforces_bounds()
    {
        var q = new FairQueue<string>(3, 2, 100);
        object a = new(), b = new();
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "1", 10));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "2", 10));
        Assert.Equal(EnqueueResult.ClientQueueFull, q.TryEnqueue(a, "3", 10));
        Assert.Equal(EnqueueResult.TooManyBytes, q.TryEnqueue(b, "4", 81));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "5", 10));
        Assert.Equal(EnqueueResult.QueueFull, q.TryEnqueue(b, "6", 1));
        Assert.Equal(3, q.Count);
        Assert.Equal(30, q.Bytes);
    }

    [Fact]
    public async Task Dequeue_times_out_through_cancellation()
    {
        var q = new FairQueue<string>(3, 2, 100);
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await q.DequeueAsync(cts.Token));
    }
}

public class BoundedJsonTests
{
    [Fact]
    public void The_token_bound_is_the_framers_so_no_document_is_built_past_it()
    {
        byte[] many = Encoding.ASCII.GetBytes("[" + string.Join(",", Enumerable.Repeat("1", 1000)) + "]");
        using (var reader = new JsonMessageReader(1 << 20, 64, 500))
        {
            Assert.Equal(JsonFrameKind.TooManyTokens, reader.Read(many, out _).Kind);
        }

        using (var reader = new JsonMessageReader(1 << 20, 64, 5000))
        {
            var frame = reader.Read(many, out _);
            Assert.Equal(JsonFrameKind.Message, frame.Kind);
            using var ok = BoundedJson.TryParse(frame.Message.Span, 64, out var error);
            Assert.NotNull(ok);
            Assert.Null(error);
        }
    }

    [Fact]
    public void Refuses_depth_duplicates_and_non_json()
    {
        Assert.Null(BoundedJson.TryParse(Encoding.ASCII.GetBytes(new string('[', 70) + new string(']', 70)), 64, out _));
        Assert.Null(BoundedJson.TryParse("{\"return\": 1, \"return\": 2}"u8, 64, out var dup));
        Assert.NotNull(dup);
        Assert.Null(BoundedJson.TryParse("{'a': 1}"u8, 64, out _));
        Assert.Null(BoundedJson.TryParse("{\"a\": 1} x"u8, 64, out _));
    }
}

public class ReplyCheckerTests
{
    private static RelaySchema Schema { get; } = new(QgaSchemaDescriptors.Commands);

    private static GuestOutcome Check(string command, string reply, out string? problem)
    {
        var doc = BoundedJson.TryParse(Encoding.UTF8.GetBytes(reply), 64, out _)!;
        return ReplyChecker.Check(doc, Schema.Find(command)!, 100, out problem);
    }

    [Theory]
    [InlineData("guest-get-time", "{\"return\": 5, \"id\": 1}")]
    [InlineData("guest-ping", "{\"return\": {}}")]
    [InlineData("guest-get-host-name", "{\"return\": {\"host-name\": \"h\"}, \"id\": 1}")]
    [InlineData("guest-file-read", "{\"return\": {\"count\": 1, \"buf-b64\": \"YQ==\", \"eof\": false}}")]
    public void Passes_replies_of_the_declared_shape(string command, string reply)
    {
        using var o = Check(command, reply, out var problem);
        Assert.Null(problem);
        Assert.Equal(OutcomeKind.Return, o.Kind);
    }

    [Theory]
    [InlineData("guest-get-time", "{\"return\": \"5\"}", "expected: integer")]
    [InlineData("guest-ping", "{\"return\": {\"x\": 1}}", "'x' is unexpected")]
    [InlineData("guest-get-host-name", "{\"return\": {}}", "'host-name' is missing")]
    [InlineData("guest-file-read", "{\"return\": {\"count\": 1, \"buf-b64\": \"YQ==\", \"eof\": \"no\"}}", "expected: boolean")]
    [InlineData("guest-ping", "{\"return\": {}, \"error\": {\"class\": \"A\", \"desc\": \"b\"}}", "exactly one")]
    [InlineData("guest-ping", "{\"return\": {}, \"extra\": 1}", "unexpected member 'extra'")]
    [InlineData("guest-ping", "[1]", "not a JSON object")]
    [InlineData("guest-ping", "{\"error\": {\"class\": 1, \"desc\": \"x\"}}", "'error' must be")]
    [InlineData("guest-ping", "{\"error\": {\"class\": \"a b\", \"desc\": \"x\"}}", "not an identifier")]
    public void Turns_wrong_shapes_into_a_relay_error(string command, string reply, string expected)
    {
        using var o = Check(command, reply, out var problem);
        Assert.Equal(OutcomeKind.Error, o.Kind);
        Assert.Equal("GenericError", o.ErrorClass);
        Assert.StartsWith("qemuguest-relay: ", o.Description);
        Assert.Contains("does not match the schema", o.Description);
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void Passes_agent_errors_with_a_bounded_desc()
    {
        using var o = Check("guest-ping", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"" + new string('x', 500) + "\"}}", out var problem);
        Assert.Null(problem);
        Assert.Equal("GenericError", o.ErrorClass);
        Assert.Equal(103, o.Description!.Length);
    }

    [Fact]
    public void Knows_the_no_reply_commands_from_the_schema()
    {
        var silent = Schema.Commands.Where(c => !c.SuccessResponse).Select(c => c.Name).ToHashSet();
        Assert.Contains("guest-shutdown", silent);
        Assert.Contains("guest-suspend-ram", silent);
        Assert.DoesNotContain("guest-ping", silent);
    }
}

public class PolicyAndOptionsTests
{
    [Fact]
    public void Read_only_policy_refuses_exec_and_writes()
    {
        var p = CommandPolicy.Resolve(new RelayOptions(), CommandPolicy.ReadOnlyName);
        Assert.True(p.Allows("guest-get-osinfo"));
        Assert.True(p.Allows("guest-ping"));
        Assert.True(p.Allows("guest-network-get-interfaces"));
        foreach (var c in new[] { "guest-exec", "guest-file-open", "guest-file-write", "guest-shutdown", "guest-set-time", "guest-fsfreeze-freeze", "guest-set-user-password" })
        {
            Assert.False(p.Allows(c), c);
        }
    }

    [Fact]
    public void Deny_wins_over_allow()
    {
        var p = new CommandPolicy("x", new[] { "guest-*" }, new[] { "guest-exec*" });
        Assert.True(p.Allows("guest-ping"));
        Assert.False(p.Allows("guest-exec"));
        Assert.False(p.Allows("guest-exec-status"));
    }

    [Fact]
    public void Validator_refuses_bad_configuration()
    {
        var o = new RelayOptions();
        o.Vms["bad/name"] = new VmOptions { Agent = "/x" };
        o.Vms["ok"] = new VmOptions { Agent = "", Endpoints = { new EndpointOptions { Tcp = "0.0.0.0:4000" }, new EndpointOptions { Name = "p", Policy = "nope" } } };
        o.Limits.FirstByteTimeoutSeconds = 0;
        var r = new RelayOptionsValidator().Validate(null, o);
        Assert.True(r.Failed);
        string all = string.Join("\n", r.Failures!);
        Assert.Contains("bad/name", all);
        Assert.Contains("Agent must name", all);
        Assert.Contains("not loopback", all);
        Assert.Contains("unknown policy 'nope'", all);
        Assert.Contains("FirstByteTimeoutSeconds", all);
    }

    [Fact]
    public void Validator_accepts_defaults_and_loopback_tcp()
    {
        var o = new RelayOptions();
        o.Vms["vm1"] = new VmOptions { Agent = "/run/x.qga", Endpoints = { new EndpointOptions { Tcp = "127.0.0.1:4000", AllowUnrestricted = true }, new EndpointOptions { Name = "ro", Policy = "read-only", Tcp = "127.0.0.1:4001" } } };
        Assert.True(new RelayOptionsValidator().Validate(null, o).Succeeded);
    }
}

public class DiscoveryTests
{
    [Fact]
    public void Finds_directory_proxmox_and_libvirt_layouts()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["plain"]);
        File.WriteAllText(Path.Combine(dir["plain"], "web1.sock"), "");
        File.WriteAllText(Path.Combine(dir["plain"], "notes.txt"), "");
        Directory.CreateDirectory(dir["pve"]);
        File.WriteAllText(Path.Combine(dir["pve"], "101.qga"), "");
        File.WriteAllText(Path.Combine(dir["pve"], "101.qmp"), "");
        string domain = Path.Combine(dir["lv"], "domain-3-db01");
        Directory.CreateDirectory(domain);
        File.WriteAllText(Path.Combine(domain, "org.qemu.guest_agent.0"), "");
        Directory.CreateDirectory(Path.Combine(dir["lv"], "domain-4-empty"));

        var o = new RelayOptions();
        o.Discovery.Directories.Add(dir["plain"]);
        o.Discovery.Proxmox = true;
        o.Discovery.ProxmoxDirectory = dir["pve"];
        o.Discovery.Libvirt = true;
        o.Discovery.LibvirtDirectory = dir["lv"];
        o.Vms["web1"] = new VmOptions { Agent = "/configured" };

        var found = VmDiscovery.Scan(o, NullLogger.Instance).ToDictionary(v => v.Name);
        Assert.Equal(new[] { "101", "db01" }, found.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(Path.Combine(dir["pve"], "101.qga"), found["101"].Agent);
        Assert.Null(found["101"].Qmp);
        Assert.Equal("libvirt", found["db01"].Source);
    }

    [Fact]
    public void Discovery_is_off_by_default()
    {
        Assert.Empty(VmDiscovery.Scan(new RelayOptions(), NullLogger.Instance));
    }
}
