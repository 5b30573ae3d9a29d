using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using CsCheck;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Generator.Tests;

/// <summary>Random JSON that is valid for a descriptor.</summary>
internal static class JsonGen
{
    private static readonly Gen<JsonNode?> AnyScalar = Gen.OneOf(
        Gen.Long.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.String.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.Const((JsonNode?)null));

    private static Gen<T> Pick<T>(T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    public static Gen<JsonNode?> For(QapiTypeDescriptor d, int depth) => d switch
    {
        QapiBuiltinDescriptor b => Builtin(b.Kind),
        QapiEnumDescriptor e => Pick(e.Values.ToArray()).Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiArrayDescriptor a => (depth > 3 ? Gen.Const(Array.Empty<JsonNode?>()) : For(a.Element, depth + 1).Array[0, 3])
            .Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray())),
        QapiAlternateDescriptor alt => Gen.Int[0, alt.Alternatives.Count - 1].SelectMany(i => For(alt.Alternatives[i], depth + 1)),
        QapiObjectDescriptor o => Object(o, depth),
        _ => throw new ArgumentException(d.Name),
    };

    private static Gen<JsonNode?> Builtin(QapiBuiltin kind) => kind switch
    {
        QapiBuiltin.Str => Gen.String.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Int or QapiBuiltin.Int64 => Gen.Long.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Int8 => Gen.SByte.Select(v => (JsonNode?)JsonValue.Create((long)v)),
        QapiBuiltin.Int16 => Gen.Short.Select(v => (JsonNode?)JsonValue.Create((long)v)),
        QapiBuiltin.Int32 => Gen.Int.Select(v => (JsonNode?)JsonValue.Create((long)v)),
        QapiBuiltin.UInt8 => Gen.Byte.Select(v => (JsonNode?)JsonValue.Create((ulong)v)),
        QapiBuiltin.UInt16 => Gen.UShort.Select(v => (JsonNode?)JsonValue.Create((ulong)v)),
        QapiBuiltin.UInt32 => Gen.UInt.Select(v => (JsonNode?)JsonValue.Create((ulong)v)),
        QapiBuiltin.UInt64 or QapiBuiltin.Size => Gen.ULong.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Number => Gen.Double.Where(double.IsFinite).Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Bool => Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Null => Gen.Const((JsonNode?)null),
        _ => AnyScalar,
    };

    private static Gen<JsonNode?> Object(QapiObjectDescriptor o, int depth)
    {
        Gen<List<KeyValuePair<string, JsonNode?>>> members = Members(o.Members, depth);
        if (o.Discriminator is not null)
        {
            var disc = o.Members.First(m => m.Name == o.Discriminator);
            var values = ((QapiEnumDescriptor)disc.Type).Values.ToArray();
            members = Gen.Select(members, Pick(values), (list, v) => (list, v)).SelectMany(t =>
            {
                var list = t.list.Where(kv => kv.Key != o.Discriminator).ToList();
                list.Insert(0, new(o.Discriminator, JsonValue.Create(t.v)));
                return o.Variants!.TryGetValue(t.v, out var variant)
                    ? Members(variant, depth).Select(extra => list.Concat(extra).ToList())
                    : Gen.Const(list);
            });
        }
        return members.Select(list =>
        {
            var obj = new JsonObject();
            foreach (var kv in list)
            {
                obj[kv.Key] = kv.Value?.DeepClone();
            }
            return (JsonNode?)obj;
        });
    }

    private static Gen<List<KeyValuePair<string, JsonNode?>>> Members(IEnumerable<QapiMemberDescriptor> members, int depth)
    {
        Gen<List<KeyValuePair<string, JsonNode?>>> gen = Gen.Const(0).Select(_ => new List<KeyValuePair<string, JsonNode?>>());
        foreach (var m in members)
        {
            // A 'path-component' string is valid only as one name; the validator holds it to that.
            var value = m.PathComponent && m.Type is QapiBuiltinDescriptor { Kind: QapiBuiltin.Str }
                ? Gen.String.Where(s => PathComponent.Problem(s) is null).Select(v => (JsonNode?)JsonValue.Create(v))
                : For(m.Type, depth + 1);
            var member = m.Optional
                ? Gen.Bool.SelectMany(present => present && depth < 4
                    ? value.Select(v => (true, v))
                    : Gen.Const((false, (JsonNode?)null)))
                : value.Select(v => (true, v));
            gen = Gen.Select(gen, member, (list, mv) =>
            {
                var copy = new List<KeyValuePair<string, JsonNode?>>(list);
                if (mv.Item1)
                {
                    copy.Add(new(m.Name, mv.Item2));
                }
                return copy;
            });
        }
        return gen;
    }

    /// <summary>Leaves the JSON alone, or breaks it a little: drop/add a member, change a value's kind.</summary>
    public static Gen<JsonNode?> Mutate(JsonNode? node) => Gen.Int[0, 4].SelectMany(kind =>
    {
        var copy = node?.DeepClone();
        switch (kind, copy)
        {
            case (1, JsonObject o) when o.Count > 0:
                return Gen.Int[0, o.Count - 1].Select(i =>
                {
                    o.Remove(o.ElementAt(i).Key);
                    return (JsonNode?)o;
                });
            case (2, JsonObject o):
                o["unexpected-member"] = 1;
                return Gen.Const((JsonNode?)o);
            case (3, JsonObject o) when o.Count > 0:
                return Gen.Select(Gen.Int[0, o.Count - 1], AnyScalar, (i, v) =>
                {
                    o[o.ElementAt(i).Key] = v;
                    return (JsonNode?)o;
                });
            case (4, _):
                return AnyScalar;
            default:
                return Gen.Const(copy);
        }
    });
}
