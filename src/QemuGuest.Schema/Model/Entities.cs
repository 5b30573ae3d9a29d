namespace QemuGuest.Schema;

// The checked entity model: what every generator backend reads. Produced only by
// SchemaChecker from parsed expressions; immutable and value-equal (records +
// EquatableArray) so the incremental generator can cache on it. No Roslyn types here.
//
// Names are kept as they are on the wire ("guest-file-open", "buf-b64"); conversion to
// C# names lives in Naming, and clashes after conversion are checked by the checker.

/// <summary>Where something was written: 1-based line and column.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A QAPI 'if' condition: a config symbol, or all/any/not of conditions.</summary>
public abstract record QapiCondition;

public sealed record QapiConditionName(string Name) : QapiCondition;

public sealed record QapiConditionAll(EquatableArray<QapiCondition> Conditions) : QapiCondition;

public sealed record QapiConditionAny(EquatableArray<QapiCondition> Conditions) : QapiCondition;

public sealed record QapiConditionNot(QapiCondition Condition) : QapiCondition;

/// <summary>A feature flag on a definition or member ('deprecated', 'unstable', or any name).</summary>
public sealed record QapiFeature(string Name, QapiCondition? If);

/// <summary>
/// A reference to a type by name: a built-in (str, int, int8..uint64, size, number, bool,
/// null, any, QType) or a schema type; <see cref="IsArray"/> for ['T'].
/// </summary>
public sealed record QapiTypeRef(string Name, bool IsArray)
{
    public override string ToString() => IsArray ? "[" + Name + "]" : Name;
}

/// <summary>A member of a struct, of a union's base, or of a command's implicit argument struct.</summary>
public sealed record QapiMember(
    string Name,
    QapiTypeRef Type,
    bool Optional,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    SourceLocation Location);

public sealed record QapiEnumValue(string Name, QapiCondition? If, EquatableArray<QapiFeature> Features);

/// <summary>A union branch (discriminator value → struct type) or an alternate branch (name → type).</summary>
public sealed record QapiVariant(string Name, QapiTypeRef Type, QapiCondition? If);

/// <summary>One '@name: text' section of a doc comment.</summary>
public sealed record QapiDocSection(string Name, string Text);

/// <summary>
/// A '##' doc block attached to a definition. Body is the free text after the symbol line;
/// Members holds '@name:' sections (arguments or members), Features the '@name:' under
/// 'Features:'; Returns/Errors/Since the tagged sections; Other any remaining 'Tag:' sections.
/// </summary>
public sealed record QapiDoc(
    string Symbol,
    string Body,
    EquatableArray<QapiDocSection> Members,
    EquatableArray<QapiDocSection> Features,
    string? Returns,
    string? Errors,
    string? Since,
    EquatableArray<QapiDocSection> Other)
{
    /// <summary>Text of the '@name:' section for a member, or null.</summary>
    public string? MemberText(string name)
    {
        foreach (var s in Members)
        {
            if (s.Name == name)
            {
                return s.Text;
            }
        }
        return null;
    }
}

/// <summary>Common shape of every definition in the schema.</summary>
public abstract record QapiEntity(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc)
{
    /// <summary>
    /// True for types the checker made up (a command's argument struct, a union's inline
    /// base), named like QEMU's "q_obj_NAME-arg" / "q_obj_NAME-base".
    /// </summary>
    public bool IsImplicit => Name.StartsWith("q_", System.StringComparison.Ordinal);

    public bool IsDeprecated => HasFeature("deprecated");

    public bool IsUnstable => HasFeature("unstable");

    public bool HasFeature(string name)
    {
        foreach (var f in Features)
        {
            if (f.Name == name)
            {
                return true;
            }
        }
        return false;
    }
}

public sealed record QapiEnum(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc,
    EquatableArray<QapiEnumValue> Values,
    string? Prefix)
    : QapiEntity(Name, Location, If, Features, Doc);

/// <summary>
/// A struct. <see cref="Members"/> are its own; <see cref="AllMembers"/> are the base's
/// (recursively) followed by its own, in wire order, as the checker resolved them.
/// </summary>
public sealed record QapiStruct(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc,
    string? Base,
    EquatableArray<QapiMember> Members,
    EquatableArray<QapiMember> AllMembers)
    : QapiEntity(Name, Location, If, Features, Doc);

/// <summary>
/// A discriminated union, flat on the wire: the base's members (including the
/// discriminator, an enum member) sit next to the chosen variant's members.
/// <see cref="Base"/> names a struct (an implicit one when the base was written inline).
/// Enum values without a branch carry only the base members.
/// </summary>
public sealed record QapiUnion(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc,
    string Base,
    string Discriminator,
    string DiscriminatorEnum,
    EquatableArray<QapiVariant> Variants)
    : QapiEntity(Name, Location, If, Features, Doc);

/// <summary>
/// An alternate: one of several types, told apart on the wire by JSON kind
/// (string/number/bool/null/object/array), as the checker has verified is possible.
/// </summary>
public sealed record QapiAlternate(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc,
    EquatableArray<QapiVariant> Alternatives)
    : QapiEntity(Name, Location, If, Features, Doc);

/// <summary>
/// A command. <see cref="Arguments"/> names the argument struct (implicit for an inline
/// 'data' dict, or a named struct/union when 'boxed' or when 'data' names a type), or null
/// when the command takes none. <see cref="Returns"/> is null when none is declared (the
/// agent replies {}). <see cref="Capabilities"/>: its classes from the capabilities side file,
/// in the file's class order (empty without one).
/// </summary>
public sealed record QapiCommand(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc,
    string? Arguments,
    bool Boxed,
    QapiTypeRef? Returns,
    bool SuccessResponse,
    bool Gen,
    bool AllowOob,
    bool AllowPreconfig,
    bool Coroutine,
    EquatableArray<string> Capabilities)
    : QapiEntity(Name, Location, If, Features, Doc);

public sealed record QapiEvent(
    string Name,
    SourceLocation Location,
    QapiCondition? If,
    EquatableArray<QapiFeature> Features,
    QapiDoc? Doc,
    string? Data,
    bool Boxed)
    : QapiEntity(Name, Location, If, Features, Doc);

/// <summary>The pragmas the schema set (QEMU's names, with their defaults).</summary>
public sealed record QapiPragmas(
    bool DocRequired,
    EquatableArray<string> CommandNameExceptions,
    EquatableArray<string> CommandReturnsExceptions,
    EquatableArray<string> DocumentationExceptions,
    EquatableArray<string> MemberNameExceptions)
{
    public static QapiPragmas Default { get; } = new(false, default, default, default, default);
}

/// <summary>
/// The whole checked schema: every entity (implicit ones included) in definition order,
/// plus the files it was read from (for diagnostics and include bookkeeping) and the classes of
/// the capabilities side file (empty without one).
/// </summary>
public sealed record QapiSchema(
    EquatableArray<QapiEntity> Entities,
    QapiPragmas Pragmas,
    EquatableArray<string> Files,
    EquatableArray<QapiCapabilityClass> Capabilities)
{
    public QapiEntity? Find(string name)
    {
        foreach (var e in Entities)
        {
            if (e.Name == name)
            {
                return e;
            }
        }
        return null;
    }

    public T? Find<T>(string name)
        where T : QapiEntity => Find(name) as T;

    public System.Collections.Generic.IEnumerable<QapiCommand> Commands
    {
        get
        {
            foreach (var e in Entities)
            {
                if (e is QapiCommand c)
                {
                    yield return c;
                }
            }
        }
    }
}
