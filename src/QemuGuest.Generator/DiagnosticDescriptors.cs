using Microsoft.CodeAnalysis;

namespace QemuGuest.Generator;

/// <summary>
/// The one registry of generator diagnostic ids. Ids are never reused: a retired id stays
/// here (commented) and in AnalyzerReleases.*.md. A test checks the ids are unique.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "QemuGuest.Schema";

    /// <summary>The schema failed to parse or check; located at the schema line/column.</summary>
    public static readonly DiagnosticDescriptor SchemaError = new(
        id: "QG0001",
        title: "QAPI schema error",
        messageFormat: "{0}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>QemuGuestSchemaRoot names no AdditionalFile.</summary>
    public static readonly DiagnosticDescriptor SchemaRootNotFound = new(
        id: "QG0002",
        title: "QAPI schema root not found",
        messageFormat: "The schema root '{0}' is not among the AdditionalFiles",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>The loader or a backend threw something other than a schema error (a bug).</summary>
    public static readonly DiagnosticDescriptor InternalError = new(
        id: "QG0003",
        title: "QemuGuest generator failure",
        messageFormat: "The QemuGuest generator failed: {0}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>QemuGuestBackends names a backend the generator does not have.</summary>
    public static readonly DiagnosticDescriptor UnknownBackend = new(
        id: "QG0004",
        title: "Unknown QemuGuest backend",
        messageFormat: "Unknown QemuGuestBackends entry '{0}' (known: {1})",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>Two definitions (or a definition and a generated name) become the same C# name.</summary>
    public static readonly DiagnosticDescriptor NameClash = new(
        id: "QG0005",
        title: "Generated C# name clash",
        messageFormat: "{0} and {1} both become the C# {2} '{3}'",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>Every descriptor, for lookup by id and for the uniqueness test.</summary>
    public static readonly DiagnosticDescriptor[] All = { SchemaError, SchemaRootNotFound, InternalError, UnknownBackend, NameClash };

    public static DiagnosticDescriptor? Find(string id)
    {
        foreach (var d in All)
        {
            if (d.Id == id)
            {
                return d;
            }
        }
        return null;
    }
}
