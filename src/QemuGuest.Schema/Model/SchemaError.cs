using System;

namespace QemuGuest.Schema;

/// <summary>
/// A schema error as QEMU prints it: "file:line:col: message", preceded by an
/// "file: In command 'x':" context line when the error is inside a definition.
/// </summary>
public sealed class SchemaError : Exception
{
    public SchemaError(SourceLocation location, string message, string? context = null)
        : base(message)
    {
        Location = location;
        Context = context;
    }

    public SourceLocation Location { get; }

    /// <summary>"In command 'guest-ping':" or null.</summary>
    public string? Context { get; }

    /// <summary>The full text, exactly as tests compare it.</summary>
    public string Text => Context is null
        ? $"{Location}: {Message}"
        : $"{Location.File}: {Context}\n{Location}: {Message}";

    public override string ToString() => Text;
}
