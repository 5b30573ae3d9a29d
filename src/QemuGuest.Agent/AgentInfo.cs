using System.Reflection;

namespace QemuGuest.Agent;

/// <summary>Identity the agent reports (guest-info version, -V).</summary>
public static class AgentInfo
{
    /// <summary>Our product version (Directory.Build.props), without build metadata.</summary>
    public static string Version { get; } = ComputeVersion();

    private static string ComputeVersion()
    {
        string? v = typeof(AgentInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(v))
        {
            return "0.0.0";
        }

        int plus = v.IndexOf('+');
        return plus >= 0 ? v.Substring(0, plus) : v;
    }
}
