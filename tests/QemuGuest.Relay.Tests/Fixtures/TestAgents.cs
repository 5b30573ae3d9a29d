using System.IO;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;

namespace QemuGuest.Relay.Tests.Fixtures;

/// <summary>
/// Real agents standing in for VMs' chardevs: NAME.qga and NAME-state in the test's folder,
/// started by the shared <see cref="RealAgentProcess"/> and returned once they listen;
/// extra arguments add options, e.g. "-b", "guest-sync-delimited".
/// </summary>
public static class TestAgents
{
    public static async Task<RealAgentProcess> StartAsync(AgentKind kind, TempDir dir, string name, params string[] extraArgs)
    {
        string state = dir[name + "-state"];
        Directory.CreateDirectory(state);
        var agent = RealAgentProcess.Start(kind, dir[name + ".qga"], state, extraArgs);
        try
        {
            await Task.Run(agent.WaitUntilListening);
        }
        catch
        {
            agent.Dispose();
            throw;
        }

        return agent;
    }
}
