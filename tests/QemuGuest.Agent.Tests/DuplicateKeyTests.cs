using System.Text.Json;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>Regression: our agent ran the last of two "execute" members; qemu-ga refuses duplicate keys at any depth.</summary>
public class DuplicateKeyTests
{
    [Theory]
    [InlineData(AgentKind.Ours, "{\"execute\":\"guest-ping\",\"execute\":\"guest-get-time\"}")]
    [InlineData(AgentKind.Stock, "{\"execute\":\"guest-ping\",\"execute\":\"guest-get-time\"}")]
    [InlineData(AgentKind.Ours, "{\"execute\":\"guest-get-host-name\",\"arguments\":{},\"arguments\":{}}")]
    [InlineData(AgentKind.Ours, "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/nonexistent/a\",\"path\":\"/nonexistent/b\"}}")]
    [InlineData(AgentKind.Stock, "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/nonexistent/a\",\"path\":\"/nonexistent/b\"}}")]
    public void Duplicate_member_names_are_a_parse_error_and_nothing_runs(AgentKind kind, string request)
    {
        using var agent = new AgentProcess(kind);
        JsonElement reply = agent.Execute(request);
        Assert.Equal("JSON parse error, duplicate key", reply.GetProperty("error").GetProperty("desc").GetString());
        Assert.False(reply.TryGetProperty("id", out _));
        HostileClientTests.AssertServes(agent, "duplicate key");
    }
}
