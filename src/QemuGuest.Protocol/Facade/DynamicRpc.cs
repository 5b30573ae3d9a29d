using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Facade;

/// <summary>
/// Untyped calls for callers that must not touch System.Text.Json types themselves (the
/// PowerShell module loads this assembly and its JSON library in a private load context, so
/// its own code passes only plain .NET values across): arguments from a dictionary, results
/// as dictionaries, arrays and primitives. Callers unwrap their own wrapper objects (PSObject)
/// before passing values in.
/// </summary>
public static class DynamicRpc
{
    /// <summary>Largest nesting accepted in caller-supplied arguments (same as the stock agent).</summary>
    public const int MaxArgumentDepth = 1024;

    /// <summary>
    /// Runs <paramref name="command"/> with <paramref name="arguments"/> (null for none) and returns
    /// the "return" value converted by <see cref="ToPlainValue"/>.
    /// </summary>
    public static async Task<object?> InvokeAsync(IGuestAgentChannel channel, string command, IDictionary? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        var args = arguments is null ? null : new DictionaryArguments(arguments);
        JsonElement value = await channel.ExecuteAsync(command, args, options, cancellationToken).ConfigureAwait(false);
        return ToPlainValue(value);
    }

    /// <summary>Like <see cref="InvokeAsync"/> for commands that send no reply on success.</summary>
    public static Task InvokeWithoutResponseAsync(IGuestAgentChannel channel, string command, IDictionary? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        var args = arguments is null ? null : new DictionaryArguments(arguments);
        return channel.ExecuteWithoutResponseAsync(command, args, options, cancellationToken);
    }

    /// <summary>
    /// JSON → plain .NET: object → Dictionary&lt;string, object?&gt; (member order kept), array →
    /// object?[], integers → long (ulong when larger), other numbers → double, strings, bools, null.
    /// </summary>
    public static object? ToPlainValue(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var p in value.EnumerateObject())
                {
                    dict[p.Name] = ToPlainValue(p.Value);
                }
                return dict;
            case JsonValueKind.Array:
                var list = new object?[value.GetArrayLength()];
                int i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    list[i++] = ToPlainValue(item);
                }
                return list;
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Number:
                if (value.TryGetInt64(out long l))
                {
                    return l;
                }
                if (value.TryGetUInt64(out ulong ul))
                {
                    return ul;
                }
                return value.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }

    /// <summary>Writes a plain .NET value as JSON; throws ArgumentException naming the path of anything unsupported.</summary>
    public static void WritePlainValue(Utf8JsonWriter writer, object? value, string path, int depth = 0)
    {
        if (depth > MaxArgumentDepth)
        {
            throw new ArgumentException($"Argument '{path}' is nested more than {MaxArgumentDepth} levels deep.");
        }
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case char c:
                writer.WriteStringValue(c.ToString());
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case byte or sbyte or short or ushort or int or long:
                writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case uint or ulong:
                writer.WriteNumberValue(Convert.ToUInt64(value, CultureInfo.InvariantCulture));
                break;
            case float or double or decimal:
                double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || double.IsInfinity(d))
                {
                    throw new ArgumentException($"Argument '{path}' is {d}, which JSON cannot carry.");
                }
                writer.WriteNumberValue(d);
                break;
            case Enum e:
                writer.WriteStringValue(e.ToString());
                break;
            case byte[] bytes:
                // QAPI has no bytes type; base64 is what every *-b64 member carries.
                writer.WriteBase64StringValue(bytes);
                break;
            case IDictionary dict:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in dict)
                {
                    string key = entry.Key?.ToString() ?? throw new ArgumentException($"Argument '{path}' has a null key.");
                    writer.WritePropertyName(key);
                    WritePlainValue(writer, entry.Value, path.Length == 0 ? key : path + "." + key, depth + 1);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable seq:
                writer.WriteStartArray();
                int i = 0;
                foreach (var item in seq)
                {
                    WritePlainValue(writer, item, path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", depth + 1);
                    i++;
                }
                writer.WriteEndArray();
                break;
            default:
                throw new ArgumentException($"Argument '{path}' has type {value.GetType().FullName}, which has no JSON form: use a string, number, bool, array or hashtable.");
        }
    }

    private sealed class DictionaryArguments : IQgaArguments
    {
        private readonly IDictionary _values;

        public DictionaryArguments(IDictionary values) => _values = values;

        public void WriteMembers(Utf8JsonWriter writer)
        {
            foreach (DictionaryEntry entry in _values)
            {
                string key = entry.Key?.ToString() ?? throw new ArgumentException("Arguments have a null key.");
                writer.WritePropertyName(key);
                WritePlainValue(writer, entry.Value, key, 1);
            }
        }
    }
}
