using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>Pub/sub commands. The connection starts and stops the forwarder tasks (see ClientSession).</summary>
public sealed partial class CommandDispatcher
{
    private static readonly byte[] s_subscribe = "subscribe"u8.ToArray();
    private static readonly byte[] s_psubscribe = "psubscribe"u8.ToArray();
    private static readonly byte[] s_unsubscribe = "unsubscribe"u8.ToArray();
    private static readonly byte[] s_punsubscribe = "punsubscribe"u8.ToArray();

    private void Subscribe(RespCommand command, ClientSession session, bool isPattern, ReplyBuffer replies)
    {
        Dictionary<byte[], Subscription> map = isPattern ? session.Patterns : session.Channels;
        for (int i = 1; i < command.Count; i++)
        {
            byte[] name = command.ToArray(i);
            if (!map.ContainsKey(name))
            {
                var subscription = new Subscription(name, isPattern, _hub.Subscribe(name, isPattern));
                map.Add(name, subscription);
                session.PendingForwarders.Add(subscription);
                session.EverSubscribed = true;
            }
            replies.Add(RespReply.Array(3));
            replies.Add(RespReply.Bulk(isPattern ? s_psubscribe : s_subscribe));
            replies.Add(RespReply.Bulk(name));
            replies.Add(RespReply.FromInteger(session.SubscriptionCount));
        }
    }

    private void Unsubscribe(RespCommand command, ClientSession session, bool isPattern, ReplyBuffer replies)
    {
        Dictionary<byte[], Subscription> map = isPattern ? session.Patterns : session.Channels;
        byte[] kind = isPattern ? s_punsubscribe : s_unsubscribe;
        if (command.Count == 1)
        {
            if (map.Count == 0)
            {
                replies.Add(RespReply.Array(3));
                replies.Add(RespReply.Bulk(kind));
                replies.Add(RespReply.NullBulk);
                replies.Add(RespReply.FromInteger(session.SubscriptionCount));
                return;
            }
            foreach (byte[] name in map.Keys.ToArray())
            {
                End(session, map, name, kind, replies);
            }
            return;
        }
        for (int i = 1; i < command.Count; i++)
        {
            End(session, map, command.ToArray(i), kind, replies);
        }
    }

    private void End(ClientSession session, Dictionary<byte[], Subscription> map, byte[] name, byte[] kind, ReplyBuffer replies)
    {
        if (map.Remove(name, out Subscription? subscription))
        {
            EndSubscription(session, subscription);
        }
        replies.Add(RespReply.Array(3));
        replies.Add(RespReply.Bulk(kind));
        replies.Add(RespReply.Bulk(name));
        replies.Add(RespReply.FromInteger(session.SubscriptionCount));
    }

    /// <summary>Leaves the hub and stops the subscription's forwarder at its next receive.</summary>
    internal void EndSubscription(ClientSession session, Subscription subscription)
    {
        subscription.Stop.Cancel();
        _hub.Unsubscribe(subscription.Name, subscription.IsPattern, subscription.Receiver);
        session.PendingForwarders.Remove(subscription);
        session.EndedSubscriptions.Add(subscription);
    }

    /// <summary>Ends every subscription of <paramref name="session"/> (RESET, disconnect).</summary>
    public void UnsubscribeAll(ClientSession session)
    {
        foreach (Subscription s in session.Channels.Values)
        {
            EndSubscription(session, s);
        }
        foreach (Subscription s in session.Patterns.Values)
        {
            EndSubscription(session, s);
        }
        session.Channels.Clear();
        session.Patterns.Clear();
    }
}
