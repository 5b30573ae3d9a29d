using System;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>The bound of a wait for a guest program, shared by the cmdlets that wait for one.</summary>
internal static class GuestProcessWait
{
    /// <summary>The largest -Timeout in seconds (31 days): longer is a mistake, not a plan.</summary>
    public const int MaxSeconds = 31 * 86400;

    /// <summary>-Timeout as the engine takes it: 0 (not given) is no limit.</summary>
    public static TimeSpan? Limit(int seconds) => seconds > 0 ? TimeSpan.FromSeconds(seconds) : null;
}
