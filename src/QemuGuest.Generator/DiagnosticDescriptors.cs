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

    /// <summary>An 'if' names a config symbol no platform defines: it would silently be false.</summary>
    public static readonly DiagnosticDescriptor UnknownConfigSymbol = new(
        id: "QG0006",
        title: "Unknown config symbol in a condition",
        messageFormat: "The condition of {1} names the config symbol '{0}', which no platform defines, so everything it guards would silently be dropped; known symbols: {2}. A new symbol goes into the generator's Planning/ConfigSymbols.cs and into QgaPlatform for the systems that define it.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    // QG01xx: the PowerShell backends (cmdlets, help) and their overlay.

    /// <summary>The PowerShell overlay (ROOT.powershell.json) failed to parse or check.</summary>
    public static readonly DiagnosticDescriptor OverlayError = new(
        id: "QG0101",
        title: "PowerShell overlay error",
        messageFormat: "{0}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>Two commands end up with the same cmdlet name (overlay or default naming rule).</summary>
    public static readonly DiagnosticDescriptor CmdletNameClash = new(
        id: "QG0102",
        title: "Cmdlet name clash",
        messageFormat: "The cmdlet name '{0}' of command '{1}' is already used by command '{2}'",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>A parameter name or alias collides with GuestCmdlet's, a common parameter, or another parameter.</summary>
    public static readonly DiagnosticDescriptor ParameterNameClash = new(
        id: "QG0103",
        title: "Cmdlet parameter name clash",
        messageFormat: "The parameter name or alias '{0}' (argument '{1}' of command '{2}') collides with {3}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>An argument's type cannot be bound from a PowerShell parameter (any, null, unions...).</summary>
    public static readonly DiagnosticDescriptor UnsupportedParameterType = new(
        id: "QG0104",
        title: "Argument type not supported by the cmdlets backend",
        messageFormat: "The argument '{0}' of command '{1}' has type '{2}', which the cmdlets backend cannot bind; the command gets no cmdlet (use Invoke-VMGuestRpc)",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>Every descriptor, for lookup by id and for the uniqueness test.</summary>
    public static readonly DiagnosticDescriptor[] All = { SchemaError, SchemaRootNotFound, InternalError, UnknownBackend, NameClash, UnknownConfigSymbol, OverlayError, CmdletNameClash, ParameterNameClash, UnsupportedParameterType };

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
