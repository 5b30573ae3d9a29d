using System;
using System.Collections.Generic;

namespace QemuGuest.Protocol.Processes;

/// <summary>A guest program to start: what, with which arguments, environment, folder and input.</summary>
public sealed class GuestProcessStartInfo
{
    public GuestProcessStartInfo(string filePath, IReadOnlyList<string>? arguments = null)
    {
        FilePath = filePath ?? throw new ArgumentNullException(nameof(filePath));
        Arguments = arguments ?? Array.Empty<string>();
    }

    /// <summary>The program; the agent searches PATH.</summary>
    public string FilePath { get; }

    /// <summary>Passed as they are, no shell.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Variables added to the agent's environment (not replacing it), in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; set; } = Array.Empty<KeyValuePair<string, string>>();

    /// <summary>The folder the program starts in; null or empty for the agent's own.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>Standard input; null or empty for none (the agent gives /dev/null).</summary>
    public byte[]? StandardInput { get; set; }

    /// <summary>The same program, environment, folder and input with another command line.</summary>
    public GuestProcessStartInfo With(string filePath, IReadOnlyList<string> arguments) => new(filePath, arguments)
    {
        Environment = Environment,
        WorkingDirectory = WorkingDirectory,
        StandardInput = StandardInput,
    };
}
