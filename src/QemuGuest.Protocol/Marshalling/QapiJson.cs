using System;
using System.Collections.Generic;
using System.Text.Json;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// Reflection-free readers and writers for QAPI built-in types, used by generated code and by
/// the <see cref="Validation.SchemaValidator"/>. Readers accept exactly what QEMU's
/// qobject-input visitor accepts and throw <see cref="QapiUnmarshalException"/> with its texts:
/// null is never "absent" (an optional member present as null is a type error), integers must be
/// integer literals (1.0 and 1e3 are not), uint64/size accept negative int64 (wrapping, as QEMU
/// does for backward compatibility).
/// </summary>
public static class QapiJson
{
    private static readonly JsonDocument EmptyDocument = JsonDocument.Parse("{}");

    /// <summary>An empty JSON object: the arguments of a request that has none.</summary>
    public static JsonElement EmptyObject => EmptyDocument.RootElement;

    /// <summary>Throws unless the value is a JSON object.</summary>
    public static void ExpectObject(JsonElement element, QapiPath path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "object"));
        }
    }

    /// <summary>A required member of an object, or "Parameter 'x' is missing".</summary>
    public static JsonElement Required(JsonElement obj, QapiPath path, string name)
    {
        if (!obj.TryGetProperty(name, out var value))
        {
            throw new QapiUnmarshalException(QapiErrorTexts.Missing(path.Member(name).FullName));
        }
        return value;
    }

    /// <summary>An optional member: true when present (even as JSON null).</summary>
    public static bool Optional(JsonElement obj, string name, out JsonElement value) => obj.TryGetProperty(name, out value);

    /// <summary>
    /// After all declared members were read: the first member (in document order) that is not
    /// in <paramref name="known"/> is "Parameter 'x' is unexpected". (With several extra
    /// members qemu-ga names one in its hash-table order; we name the first.)
    /// </summary>
    public static void CheckUnexpected(JsonElement obj, QapiPath path, string[] known)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (Array.IndexOf(known, property.Name) < 0)
            {
                throw new QapiUnmarshalException(QapiErrorTexts.Unexpected(path.Member(property.Name).FullName));
            }
        }
    }

    /// <summary>QAPI 'int' / 'int64'.</summary>
    public static long ReadInt(JsonElement element, QapiPath path)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out long value))
        {
            return value;
        }
        throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "integer"));
    }

    /// <summary>QAPI 'uint64' (and 'size').</summary>
    public static ulong ReadUInt64(JsonElement element, QapiPath path)
    {
        if (element.ValueKind == JsonValueKind.Number)
        {
            if (element.TryGetUInt64(out ulong u))
            {
                return u;
            }
            if (element.TryGetInt64(out long l))
            {
                return unchecked((ulong)l);
            }
        }
        throw new QapiUnmarshalException(QapiErrorTexts.InvalidValue(path.FullName, "uint64"));
    }

    public static ulong ReadSize(JsonElement element, QapiPath path) => ReadUInt64(element, path);

    public static sbyte ReadInt8(JsonElement element, QapiPath path) => (sbyte)ReadIntN(element, path, sbyte.MinValue, sbyte.MaxValue, "int8");

    public static short ReadInt16(JsonElement element, QapiPath path) => (short)ReadIntN(element, path, short.MinValue, short.MaxValue, "int16");

    public static int ReadInt32(JsonElement element, QapiPath path) => (int)ReadIntN(element, path, int.MinValue, int.MaxValue, "int32");

    public static byte ReadUInt8(JsonElement element, QapiPath path) => (byte)ReadUIntN(element, path, byte.MaxValue, "uint8");

    public static ushort ReadUInt16(JsonElement element, QapiPath path) => (ushort)ReadUIntN(element, path, ushort.MaxValue, "uint16");

    public static uint ReadUInt32(JsonElement element, QapiPath path) => (uint)ReadUIntN(element, path, uint.MaxValue, "uint32");

    private static long ReadIntN(JsonElement element, QapiPath path, long min, long max, string type)
    {
        long value = ReadInt(element, path);
        if (value < min || value > max)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.InvalidValue(path.BareName, type));
        }
        return value;
    }

    private static ulong ReadUIntN(JsonElement element, QapiPath path, ulong max, string type)
    {
        ulong value = ReadUInt64(element, path);
        if (value > max)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.InvalidValue(path.BareName, type));
        }
        return value;
    }

    /// <summary>QAPI 'number': any JSON number.</summary>
    public static double ReadNumber(JsonElement element, QapiPath path)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out double value))
        {
            return value;
        }
        throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "number"));
    }

    public static bool ReadBool(JsonElement element, QapiPath path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "boolean"));
        }
    }

    public static string ReadString(JsonElement element, QapiPath path)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString()!;
        }
        throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "string"));
    }

    public static QapiNull ReadNull(JsonElement element, QapiPath path)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return QapiNull.Value;
        }
        throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "null"));
    }

    /// <summary>QAPI 'any': any JSON value, detached from its document.</summary>
    public static JsonElement ReadAny(JsonElement element, QapiPath path) => element.Clone();

    /// <summary>Reads an enum's wire string; an unknown value is "Parameter 'x' does not accept value 'y'".</summary>
    public static T ReadEnum<T>(JsonElement element, QapiPath path, Func<string, T?> parse)
        where T : struct
    {
        string text = ReadString(element, path);
        T? value = parse(text);
        if (value is null)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.EnumValue(path.BareName, text));
        }
        return value.Value;
    }

    /// <summary>Reads a JSON array element by element, naming elements "name[i]".</summary>
    public static QapiList<T> ReadList<T>(JsonElement element, QapiPath path, Func<JsonElement, QapiPath, T> readItem)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new QapiUnmarshalException(QapiErrorTexts.InvalidType(path.FullName, "array"));
        }
        int count = element.GetArrayLength();
        if (count == 0)
        {
            return QapiList<T>.Empty;
        }
        var items = new T[count];
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            items[i] = readItem(item, path.Element(i));
            i++;
        }
        return new QapiList<T>(items);
    }

    /// <summary>Writes a list as a JSON array.</summary>
    public static void WriteList<T>(Utf8JsonWriter writer, IReadOnlyList<T> list, Action<Utf8JsonWriter, T> writeItem)
    {
        writer.WriteStartArray();
        for (int i = 0; i < list.Count; i++)
        {
            writeItem(writer, list[i]);
        }
        writer.WriteEndArray();
    }

    public static void WriteInt(Utf8JsonWriter writer, long value) => writer.WriteNumberValue(value);

    public static void WriteUInt(Utf8JsonWriter writer, ulong value) => writer.WriteNumberValue(value);

    public static void WriteNumber(Utf8JsonWriter writer, double value) => writer.WriteNumberValue(value);

    public static void WriteBool(Utf8JsonWriter writer, bool value) => writer.WriteBooleanValue(value);

    public static void WriteString(Utf8JsonWriter writer, string value) => writer.WriteStringValue(value);

    public static void WriteNull(Utf8JsonWriter writer, QapiNull value) => writer.WriteNullValue();

    public static void WriteAny(Utf8JsonWriter writer, JsonElement value) => value.WriteTo(writer);

    /// <summary>JSON kind name QEMU uses in "expected: ..." for a value kind.</summary>
    public static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
