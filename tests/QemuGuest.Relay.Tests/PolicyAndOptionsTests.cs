using QemuGuest.Relay.Configuration;

namespace QemuGuest.Relay.Tests;

public class PolicyAndOptionsTests
{
    [Fact]
    public void Read_only_policy_refuses_exec_and_writes()
    {
        var p = EndpointPolicy.Resolve(new RelayOptions(), EndpointPolicy.ReadOnlyName);
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
        var p = new EndpointPolicy("x", new[] { "guest-*" }, new[] { "guest-exec*" });
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
