namespace QemuGuest.Protocol.Processes;

/// <summary>
/// Why starting, waiting for or looking at a guest process failed. The engine decides the kind
/// where it knows what went wrong; the cmdlets' ErrorTable turns each kind into a stable ErrorId
/// and ErrorCategory, so no caller guesses the kind again from a message.
/// </summary>
public enum GuestProcessFailureKind
{
    /// <summary>An environment variable name is empty or contains '='.</summary>
    InvalidEnvironmentName,

    /// <summary>The agent offers no guest-exec, or not what was asked (environment or working folder on a stock Windows agent).</summary>
    AgentFeatureUnavailable,

    /// <summary>The process did not exit within the timeout (it was killed, or left running when asked to).</summary>
    Timeout,

    /// <summary>The agent knows no process with this id (the stock agent forgets one once it reported its exit).</summary>
    ProcessNotFound,

    /// <summary>A cmd script has characters the guest's console code page cannot hold (cmd reads a batch file in that page).</summary>
    ScriptNotEncodable,
}
