using System;
using System.Collections.Generic;

namespace QemuGuest.Schema;

/// <summary>
/// PowerShell's approved verbs, as <c>Get-Verb</c> lists them in PowerShell 7.6 (100 verbs,
/// in Get-Verb's order). The overlay checker requires cmdlet verbs from this list; generators
/// choosing default cmdlet names should too.
/// </summary>
public static class PowerShellVerbs
{
    public static IReadOnlyList<string> Approved { get; } = new[]
    {
        "Add", "Clear", "Close", "Copy", "Enter", "Exit", "Find", "Format", "Get", "Hide", "Join",
        "Lock", "Move", "New", "Open", "Optimize", "Push", "Pop", "Redo", "Remove", "Rename",
        "Reset", "Resize", "Search", "Select", "Set", "Show", "Skip", "Split", "Step", "Switch",
        "Undo", "Unlock", "Watch", "Connect", "Disconnect", "Read", "Receive", "Send", "Write",
        "Backup", "Checkpoint", "Compare", "Compress", "Convert", "ConvertFrom", "ConvertTo",
        "Dismount", "Edit", "Expand", "Export", "Group", "Import", "Initialize", "Limit", "Merge",
        "Mount", "Out", "Publish", "Restore", "Save", "Sync", "Unpublish", "Update", "Debug",
        "Measure", "Ping", "Repair", "Resolve", "Test", "Trace", "Approve", "Assert", "Build",
        "Complete", "Confirm", "Deny", "Deploy", "Disable", "Enable", "Install", "Invoke",
        "Register", "Request", "Restart", "Resume", "Start", "Stop", "Submit", "Suspend",
        "Uninstall", "Unregister", "Wait", "Use", "Block", "Grant", "Protect", "Revoke", "Unblock",
        "Unprotect",
    };

    private static readonly HashSet<string> Set = new(Approved, StringComparer.Ordinal);

    /// <summary>True if <paramref name="verb"/> is approved, in its canonical casing ("Get", not "get").</summary>
    public static bool IsApproved(string verb) => Set.Contains(verb);
}
