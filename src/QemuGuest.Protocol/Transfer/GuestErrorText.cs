using System;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// What a guest's error text says went wrong. The stock agent reports a failed open, read or
/// write only as a sentence with strerror (Linux) or FormatMessage (Windows) text inside, and
/// guest-exec tools only as stderr: there is no errno on the wire, so the text is all there is.
/// This is the one place that reads it; the engine turns the answer into a
/// <see cref="TransferFailureKind"/> once, where it knows which side of the copy it concerns.
/// </summary>
public static class GuestErrorText
{
    public static bool IsMissing(Exception ex) => ex is QgaCommandException c && c is not QgaCommandNotFoundException && IsMissing(c.Description);

    public static bool IsMissing(string text) => Contains(text,
        "No such file", "cannot find the file", "cannot find the path", "not found", "ENOENT",
        // dash: "cannot create X: Directory nonexistent"; busybox: "can't create X: nonexistent directory".
        "nonexistent");

    public static bool IsPermission(Exception ex) => ex is QgaCommandException c && IsPermission(c.Description);

    // "Access denied.": Wine's text for ERROR_ACCESS_DENIED (Windows says "Access is denied.").
    public static bool IsPermission(string text) => Contains(text,
        "Permission denied", "Access is denied", "Access denied", "Read-only file system", "Operation not permitted", "EACCES", "EPERM");

    public static bool IsDiskFull(Exception ex) => ex is QgaCommandException c && IsDiskFull(c.Description);

    public static bool IsDiskFull(string text) => Contains(text, "No space left", "not enough space", "Disk quota", "ENOSPC");

    public static bool IsDirectoryError(Exception ex) => ex is QgaCommandException c && Contains(c.Description, "Is a directory", "EISDIR");

    /// <summary>
    /// A file command on a handle the agent does not hold (both agents: "handle 'N' has not
    /// been found"): after an interruption, the agent that answers is a new process, whose
    /// table lost the handle.
    /// </summary>
    public static bool IsHandleGone(Exception ex) =>
        ex is QgaGenericErrorException c && Contains(c.Description, "has not been found") && Contains(c.Description, "handle");

    /// <summary>mkdir/mv/move refusing because the target is there already.</summary>
    public static bool IsExists(string text) => Contains(text, "File exists", "not overwritten");

    /// <summary>
    /// The relay's own errors for a lost agent connection, a reply that never came or a channel
    /// that was not ready: the same interruption a direct session reports as
    /// QgaDisconnectedException / QgaTimeoutException. The relay marks them structurally
    /// (<see cref="QgaCommandException.Interruption"/>), not by wording, which a guest's own
    /// error text could imitate.
    /// </summary>
    public static bool IsRelayInterruption(Exception ex) => ex is QgaCommandException { Interruption: not null and not QgaInterruption.BadFrame };

    private static bool Contains(string text, params string[] needles)
    {
        foreach (var n in needles)
        {
            if (text.IndexOf(n, StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return true;
            }
        }
        return false;
    }
}
