using System;
using System.Collections.Generic;
using System.Text.Json;
using QemuGuest.Protocol.Marshalling;

namespace QemuGuest.Protocol.Validation;

/// <summary>A request the agent would refuse, with the error class and text it would send.</summary>
public sealed class QgaValidationError
{
    public QgaValidationError(string errorClass, string description)
    {
        ErrorClass = errorClass;
        Description = description;
    }

    /// <summary>"GenericError" or "CommandNotFound".</summary>
    public string ErrorClass { get; }

    public string Description { get; }

    public override string ToString() => ErrorClass + ": " + Description;
}

/// <summary>
/// Checks raw JSON against the schema in both directions without per-command code, from the
/// generated descriptor tables. Error texts are QEMU's (<see cref="QapiErrorTexts"/>), and the
/// checks mirror the generated readers exactly (a property test holds them to it).
/// Conditions are not applied: any command the schema declares is accepted.
/// </summary>
public sealed class SchemaValidator
{
    private readonly Dictionary<string, QgaCommandDescriptor> _commands = new(StringComparer.Ordinal);

    public SchemaValidator(IEnumerable<QgaCommandDescriptor> commands)
    {
        foreach (var c in commands)
        {
            _commands[c.Name] = c;
        }
    }

    public QgaCommandDescriptor? Find(string command) => _commands.TryGetValue(command, out var c) ? c : null;

    /// <summary>
    /// Checks a whole request object: the envelope (execute, arguments, id only), that the command
    /// exists, and its arguments. Returns null when the stock agent would accept it.
    /// </summary>
    public QgaValidationError? ValidateRequest(JsonElement request) => ValidateRequest(RequestEnvelope.Read(request));

    /// <summary>Checks an envelope already read: its own error, then the command and its arguments.</summary>
    public QgaValidationError? ValidateRequest(in RequestEnvelope envelope)
    {
        if (envelope.Error is not null)
        {
            return Generic(envelope.Error);
        }
        string command = envelope.Command!;
        var descriptor = Find(command);
        if (descriptor is null)
        {
            return new QgaValidationError("CommandNotFound", QapiErrorTexts.CommandNotFound(command));
        }
        string? error = ValidateArguments(descriptor, envelope.Arguments);
        return error is null ? null : Generic(error);
    }

    /// <summary>Checks a command's "arguments" object (null or absent = {}); returns the error text or null.</summary>
    public static string? ValidateArguments(QgaCommandDescriptor command, JsonElement? arguments)
    {
        try
        {
            if (command.Arguments is null)
            {
                if (arguments is { } a)
                {
                    QapiJson.CheckUnexpected(a, QapiPath.Root, Array.Empty<string>());
                }
            }
            else if (arguments is { } a)
            {
                Check(command.Arguments, a, QapiPath.Root);
            }
            else
            {
                using var empty = JsonDocument.Parse("{}");
                Check(command.Arguments, empty.RootElement, QapiPath.Root);
            }
            return null;
        }
        catch (QapiUnmarshalException e)
        {
            return e.Message;
        }
    }

    /// <summary>Checks a reply's "return" value for a command; returns the error text or null.</summary>
    public string? ValidateReturn(string command, JsonElement returnValue)
    {
        var descriptor = Find(command);
        if (descriptor is null)
        {
            return QapiErrorTexts.CommandNotFound(command);
        }
        return ValidateReturn(descriptor, returnValue);
    }

    /// <summary>Checks a reply's "return" value; a command without a return type must return {}.</summary>
    public static string? ValidateReturn(QgaCommandDescriptor command, JsonElement returnValue)
    {
        try
        {
            if (command.Returns is null)
            {
                QapiJson.ExpectObject(returnValue, QapiPath.Root);
                QapiJson.CheckUnexpected(returnValue, QapiPath.Root, Array.Empty<string>());
            }
            else
            {
                Check(command.Returns, returnValue, QapiPath.Root);
            }
            return null;
        }
        catch (QapiUnmarshalException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Checks one value against a type; throws <see cref="QapiUnmarshalException"/>. The shape
    /// first, exactly as the generated readers see it; then, on a well-shaped value only, every
    /// 'path-component' member (so a value with both kinds of fault reports the one the readers
    /// report).
    /// </summary>
    public static void Check(QapiTypeDescriptor type, JsonElement value, QapiPath path)
    {
        CheckShape(type, value, path);
        CheckNames(type, value, path);
    }

    private static void CheckShape(QapiTypeDescriptor type, JsonElement value, QapiPath path)
    {
        switch (type)
        {
            case QapiBuiltinDescriptor b:
                CheckBuiltin(b.Kind, value, path);
                break;
            case QapiEnumDescriptor e:
            {
                string text = QapiJson.ReadString(value, path);
                bool found = false;
                foreach (var v in e.Values)
                {
                    if (v == text)
                    {
                        found = true;
                        break;
                    }
                }
                if (!found)
                {
                    throw new QapiUnmarshalException(QapiErrorTexts.EnumValue(path.BareName, text));
                }
                break;
            }
            case QapiArrayDescriptor a:
                QapiJson.ReadList(value, path, (item, p) =>
                {
                    CheckShape(a.Element, item, p);
                    return 0;
                });
                break;
            case QapiObjectDescriptor o:
                CheckObject(o, value, path);
                break;
            case QapiAlternateDescriptor alt:
            {
                var branch = ChooseAlternative(alt, value.ValueKind);
                if (branch is null)
                {
                    throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.BareName, alt.Name));
                }
                CheckShape(branch, value, path);
                break;
            }
            default:
                throw new ArgumentException("unknown descriptor " + type.GetType().Name, nameof(type));
        }
    }

    /// <summary>The alternative a JSON kind selects, or null (QEMU's QType dispatch).</summary>
    public static QapiTypeDescriptor? ChooseAlternative(QapiAlternateDescriptor alternate, JsonValueKind kind)
    {
        foreach (var alt in alternate.Alternatives)
        {
            if (Accepts(alt, kind))
            {
                return alt;
            }
        }
        return null;
    }

    private static bool Accepts(QapiTypeDescriptor type, JsonValueKind kind) => type switch
    {
        QapiEnumDescriptor => kind == JsonValueKind.String,
        QapiArrayDescriptor => kind == JsonValueKind.Array,
        QapiObjectDescriptor => kind == JsonValueKind.Object,
        QapiAlternateDescriptor => false,
        QapiBuiltinDescriptor b => b.Kind switch
        {
            QapiBuiltin.Str => kind == JsonValueKind.String,
            QapiBuiltin.Bool => kind is JsonValueKind.True or JsonValueKind.False,
            QapiBuiltin.Null => kind == JsonValueKind.Null,
            QapiBuiltin.Any => true,
            _ => kind == JsonValueKind.Number,
        },
        _ => false,
    };

    private static void CheckObject(QapiObjectDescriptor type, JsonElement value, QapiPath path)
    {
        QapiJson.ExpectObject(value, path);
        string? discriminatorValue = null;
        foreach (var m in type.Members)
        {
            CheckMember(m, value, path);
            if (m.Name == type.Discriminator && value.TryGetProperty(m.Name, out var d))
            {
                discriminatorValue = d.GetString();
            }
        }
        if (type.Variants is null)
        {
            QapiJson.CheckUnexpected(value, path, type.KnownNames);
            return;
        }
        var known = new List<string>(type.KnownNames);
        if (discriminatorValue is not null && type.Variants.TryGetValue(discriminatorValue, out var variant))
        {
            foreach (var m in variant)
            {
                CheckMember(m, value, path);
                known.Add(m.Name);
            }
        }
        QapiJson.CheckUnexpected(value, path, known.ToArray());
    }

    private static void CheckMember(QapiMemberDescriptor member, JsonElement obj, QapiPath path)
    {
        JsonElement value;
        if (member.Optional)
        {
            if (!QapiJson.Optional(obj, member.Name, out value))
            {
                return;
            }
        }
        else
        {
            value = QapiJson.Required(obj, path, member.Name);
        }
        CheckShape(member.Type, value, path.Member(member.Name));
    }

    // Second pass over a well-shaped value: 'path-component' members (str, or lists of str:
    // the schema checker allows the feature on nothing else) must each be one name.
    private static void CheckNames(QapiTypeDescriptor type, JsonElement value, QapiPath path)
    {
        switch (type)
        {
            case QapiArrayDescriptor a:
            {
                int i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    CheckNames(a.Element, item, path.Element(i++));
                }
                break;
            }
            case QapiAlternateDescriptor alt:
                CheckNames(ChooseAlternative(alt, value.ValueKind)!, value, path);
                break;
            case QapiObjectDescriptor o:
                CheckMemberNames(o.Members, value, path);
                if (o.Discriminator is not null && value.TryGetProperty(o.Discriminator, out var d)
                    && o.Variants!.TryGetValue(d.GetString()!, out var variant))
                {
                    CheckMemberNames(variant, value, path);
                }
                break;
        }
    }

    private static void CheckMemberNames(IReadOnlyList<QapiMemberDescriptor> members, JsonElement obj, QapiPath path)
    {
        foreach (var m in members)
        {
            if (!obj.TryGetProperty(m.Name, out var v))
            {
                continue;
            }
            var memberPath = path.Member(m.Name);
            if (m.PathComponent)
            {
                CheckPathComponent(v, memberPath);
            }
            else
            {
                CheckNames(m.Type, v, memberPath);
            }
        }
    }

    private static void CheckPathComponent(JsonElement value, QapiPath path)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                CheckPathComponent(item, path.Element(i++));
            }
            return;
        }
        string name = value.GetString()!;
        string? problem = PathComponent.Problem(name);
        if (problem is not null)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.NotPathComponent(path.FullName, PathComponent.Printable(name, 100), problem));
        }
    }

    private static void CheckBuiltin(QapiBuiltin kind, JsonElement value, QapiPath path)
    {
        switch (kind)
        {
            case QapiBuiltin.Str: QapiJson.ReadString(value, path); break;
            case QapiBuiltin.Int:
            case QapiBuiltin.Int64: QapiJson.ReadInt(value, path); break;
            case QapiBuiltin.Int8: QapiJson.ReadInt8(value, path); break;
            case QapiBuiltin.Int16: QapiJson.ReadInt16(value, path); break;
            case QapiBuiltin.Int32: QapiJson.ReadInt32(value, path); break;
            case QapiBuiltin.UInt8: QapiJson.ReadUInt8(value, path); break;
            case QapiBuiltin.UInt16: QapiJson.ReadUInt16(value, path); break;
            case QapiBuiltin.UInt32: QapiJson.ReadUInt32(value, path); break;
            case QapiBuiltin.UInt64:
            case QapiBuiltin.Size: QapiJson.ReadUInt64(value, path); break;
            case QapiBuiltin.Number: QapiJson.ReadNumber(value, path); break;
            case QapiBuiltin.Bool: QapiJson.ReadBool(value, path); break;
            case QapiBuiltin.Null: QapiJson.ReadNull(value, path); break;
            case QapiBuiltin.Any: break;
        }
    }

    private static QgaValidationError Generic(string text) => new("GenericError", text);
}
