//+------------------------------------------------------------------+
//| MT5SaaS_AllInOne.mq5                                              |
//| The All-in-One EA of mt5saas: webhook file mode, slave mode and   |
//| master mode, in any combination. The file and HTTP protocol it    |
//| speaks is specified in docs/ea-protocol.md; keep the two in step  |
//| (tests/ea/test_ea_source.py checks every field name and input).   |
//+------------------------------------------------------------------+
#property copyright "mt5saas"
#property version   "1.02"
#property description "Executes webhook_command_*.json and slave_command_*.json from MQL5\\Files, writes result_<id>.json and status.json, and posts master trades to /api/copy/trade."

#define PROTOCOL_VERSION      1
#define EA_VERSION            "1.02"
#define COMMENT_LENGTH        31
#define MAX_COMMAND_BYTES     65536
#define MAX_ID_LENGTH         64
#define STATUS_FILE           "status.json"
#define MASTER_QUEUE_FILE     "master_queue.jsonl"
#define WEBHOOK_PREFIX        "webhook_command_"
#define SLAVE_PREFIX          "slave_command_"
#define CHECK_PREFIX          "check_command_"
#define LINK_PREFIX           "COPY_"
#define TIMER_MS              250
#define STATUS_EVERY_MS       1000
#define DEALS_WINDOW_S        86400
#define DEALS_REQUEST_PREFIX  "deals_request_"
#define DEALS_REPORT_PREFIX   "deals_"
#define DEALS_REPORT_MAX      5000

// Return codes the EA answers itself (MT5's TRADE_RETCODE_* values).
#define RC_DONE               10009
#define RC_TIMEOUT            10012
#define RC_INVALID            10013
#define RC_INVALID_VOLUME     10014
#define RC_INVALID_PRICE      10015
#define RC_TRADE_DISABLED     10017
#define RC_PRICE_OFF          10021
#define RC_CLIENT_DISABLES_AT 10027
#define RC_INVALID_FILL       10030
#define RC_CONNECTION         10031
#define RC_INVALID_ORDER      10035
#define RC_POSITION_CLOSED    10036
#define RC_LONG_ONLY          10042
#define RC_SHORT_ONLY         10043
#define RC_CLOSE_ONLY         10044
#define RC_ERROR              10011

enum ENUM_LOG_LEVEL
  {
   LOG_DEBUG,   // Debug: everything
   LOG_INFO,    // Info: commands and events
   LOG_WARNING, // Warning: what needs a look
   LOG_ERROR    // Error: failures only
  };

//==================== Inputs (names as in the single-user bot) ====================
input group "=== Modes (any combination) ==="
input bool   EnableWebhook = true;                                    // Webhook file mode: execute webhook_command_*.json
input bool   EnableMaster  = false;                                   // Master mode: post this account's trades to the service
input bool   EnableSlave   = false;                                   // Slave mode: execute slave_command_*.json (copies)

input group "=== Webhook file mode ==="
input string Webhook_InstanceRootPath = "C:\\mt5\\instances";         // Host's instance root (checked against this terminal's folder)
input string Webhook_FilePattern      = "webhook_command_*.json";     // Command files (must start with webhook_command_)
input int    Webhook_PollingSeconds   = 1;                            // Look for commands every N s (0 = every 250 ms)

input group "=== Master mode ==="
input string Master_ServerURL     = "https://mt5saas.example.com";    // Service address (add it under Tools > Options > Expert Advisors)
input string Master_APIKey        = "";                               // The copy pair's API key (sent as X-API-Key)
input bool   Master_SendOnOpen    = true;                             // Send deal_add when a position opens
input bool   Master_SendOnClose   = true;                             // Send deal_close on full and partial closes
input bool   Master_SendOnModify  = true;                             // Send position_modify when SL/TP change
input int    Master_HttpTimeoutMs = 5000;                             // HTTP timeout (ms)
input int    Master_QueueLimit    = 1000;                             // Events kept for retry while the service is away

input group "=== Slave mode ==="
input string Slave_InstanceRootPath = "C:\\mt5\\instances";           // Host's instance root (checked against this terminal's folder)
input string Slave_FilePattern      = "slave_command_*.json";         // Command files (must start with slave_command_)
input int    Slave_PollingSeconds   = 1;                              // Look for commands every N s (0 = every 250 ms)

input group "=== Logging ==="
input bool           EnableLogging = true;                            // Write to the Experts journal
input ENUM_LOG_LEVEL LogLevel      = LOG_INFO;                        // Least important level written

//==================== State ====================
ulong  g_next_webhook_ms = 0;
ulong  g_next_slave_ms   = 0;
ulong  g_next_status_ms  = 0;
bool   g_root_checked    = false;
bool   g_loaded          = false;   // false in the last status.json the EA writes as it leaves its chart

string g_queue[];                 // master events waiting for the service, oldest first (body JSON)
int    g_dropped         = 0;     // events refused because the queue was full
ulong  g_last_deal       = 0;     // the newest deal already turned into an event
bool   g_have_cursor     = false;
ulong  g_next_send_ms    = 0;
int    g_backoff_ms      = 0;
long   g_event_counter   = 0;
ulong  g_pos_ids[];               // positions seen at the last master scan and their SL/TP
double g_pos_sl[];
double g_pos_tp[];
bool   g_pos_known       = false;

//==================== Logging ====================
void Log(const ENUM_LOG_LEVEL level, const string message)
  {
   if(!EnableLogging || level < LogLevel)
      return;
   string tag = (level == LOG_DEBUG ? "DEBUG" : level == LOG_INFO ? "INFO" : level == LOG_WARNING ? "WARNING" : "ERROR");
   Print("[mt5saas ", tag, "] ", message);
  }

//==================== Retcodes in words (terminals/retcodes.py) ====================
string RetcodeWords(const long code)
  {
   switch((int)code)
     {
      case 0:     return "Check passed (OK 0)";
      case 10004: return "Requote (REQUOTE 10004)";
      case 10006: return "Request rejected (REJECT 10006)";
      case 10007: return "Request canceled by trader (CANCEL 10007)";
      case 10008: return "Order placed (PLACED 10008)";
      case 10009: return "Request completed (DONE 10009)";
      case 10010: return "Only part of the request was completed (DONE_PARTIAL 10010)";
      case 10011: return "Request processing error (ERROR 10011)";
      case 10012: return "Request canceled by timeout (TIMEOUT 10012)";
      case 10013: return "Invalid request (INVALID 10013)";
      case 10014: return "Invalid volume in the request (INVALID_VOLUME 10014)";
      case 10015: return "Invalid price in the request (INVALID_PRICE 10015)";
      case 10016: return "Invalid stops in the request (INVALID_STOPS 10016)";
      case 10017: return "Trade is disabled (TRADE_DISABLED 10017)";
      case 10018: return "Market is closed (MARKET_CLOSED 10018)";
      case 10019: return "There is not enough money to complete the request (NO_MONEY 10019)";
      case 10020: return "Prices changed (PRICE_CHANGED 10020)";
      case 10021: return "There are no quotes to process the request (PRICE_OFF 10021)";
      case 10022: return "Invalid order expiration date in the request (INVALID_EXPIRATION 10022)";
      case 10023: return "Order state changed (ORDER_CHANGED 10023)";
      case 10024: return "Too frequent requests (TOO_MANY_REQUESTS 10024)";
      case 10025: return "No changes in request (NO_CHANGES 10025)";
      case 10026: return "Autotrading disabled by server (SERVER_DISABLES_AT 10026)";
      case 10027: return "Autotrading disabled by client terminal (CLIENT_DISABLES_AT 10027)";
      case 10028: return "Request locked for processing (LOCKED 10028)";
      case 10029: return "Order or position frozen (FROZEN 10029)";
      case 10030: return "Invalid order filling type (INVALID_FILL 10030)";
      case 10031: return "No connection with the trade server (CONNECTION 10031)";
      case 10032: return "Operation is allowed only for live accounts (ONLY_REAL 10032)";
      case 10033: return "The number of pending orders has reached the limit (LIMIT_ORDERS 10033)";
      case 10034: return "The volume of orders and positions for the symbol has reached the limit (LIMIT_VOLUME 10034)";
      case 10035: return "Incorrect or prohibited order type (INVALID_ORDER 10035)";
      case 10036: return "Position with the specified identifier has already been closed (POSITION_CLOSED 10036)";
      case 10038: return "A close volume exceeds the current position volume (INVALID_CLOSE_VOLUME 10038)";
      case 10039: return "A close order already exists for a specified position (CLOSE_ORDER_EXIST 10039)";
      case 10040: return "The number of open positions has reached the limit (LIMIT_POSITIONS 10040)";
      case 10041: return "The pending order activation request is rejected, the order is canceled (REJECT_CANCEL 10041)";
      case 10042: return "Only long positions are allowed for the symbol (LONG_ONLY 10042)";
      case 10043: return "Only short positions are allowed for the symbol (SHORT_ONLY 10043)";
      case 10044: return "Only position closing is allowed for the symbol (CLOSE_ONLY 10044)";
      case 10045: return "Position closing is allowed only by FIFO rule (FIFO_CLOSE 10045)";
      case 10046: return "Opposite positions on a single symbol are disabled (HEDGE_PROHIBITED 10046)";
     }
   return "Unknown code (UNKNOWN " + IntegerToString(code) + ")";
  }

//==================== JSON: a reader for flat objects ====================
// Protocol files are one JSON object of strings, numbers and booleans; nested values
// are skipped (unknown fields are ignored). Every error says where and what.
#define J_STRING 1
#define J_NUMBER 2
#define J_BOOL   3
#define J_NULL   4
#define J_OTHER  5

class CJsonObject
  {
public:
   string            keys[];
   int               types[];
   string            values[];   // decoded text of strings; the literal of numbers and booleans
   int               Find(const string key)
     {
      for(int i = ArraySize(keys) - 1; i >= 0; i--)
         if(keys[i] == key)
            return i;
      return -1;
     }
   void              Add(const string key, const int type, const string value)
     {
      int n = ArraySize(keys);
      ArrayResize(keys, n + 1);
      ArrayResize(types, n + 1);
      ArrayResize(values, n + 1);
      keys[n] = key;
      types[n] = type;
      values[n] = value;
     }
  };

bool IsSpace(const ushort c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsDigit(const ushort c) { return c >= '0' && c <= '9'; }

void SkipSpaces(const string s, int &pos)
  {
   int n = StringLen(s);
   while(pos < n && IsSpace(StringGetCharacter(s, pos)))
      pos++;
  }

int HexValue(const ushort c)
  {
   if(c >= '0' && c <= '9') return c - '0';
   if(c >= 'a' && c <= 'f') return c - 'a' + 10;
   if(c >= 'A' && c <= 'F') return c - 'A' + 10;
   return -1;
  }

bool ReadJsonString(const string s, int &pos, string &out, string &error)
  {
   int n = StringLen(s);
   out = "";
   if(pos >= n || StringGetCharacter(s, pos) != '"')
     {
      error = "a string was expected at character " + IntegerToString(pos);
      return false;
     }
   pos++;
   while(pos < n)
     {
      ushort c = StringGetCharacter(s, pos);
      if(c == '"')
        {
         pos++;
         return true;
        }
      if(c < 0x20)
        {
         error = "a control character inside a string at character " + IntegerToString(pos);
         return false;
        }
      if(c != '\\')
        {
         out += ShortToString(c);
         pos++;
         continue;
        }
      if(pos + 1 >= n)
         break;
      ushort e = StringGetCharacter(s, pos + 1);
      pos += 2;
      if(e == '"' || e == '\\' || e == '/') out += ShortToString(e);
      else if(e == 'b') out += ShortToString(8);
      else if(e == 'f') out += ShortToString(12);
      else if(e == 'n') out += "\n";
      else if(e == 'r') out += "\r";
      else if(e == 't') out += "\t";
      else if(e == 'u')
        {
         int code = 0;
         for(int k = 0; k < 4; k++)
           {
            int h = (pos + k < n) ? HexValue(StringGetCharacter(s, pos + k)) : -1;
            if(h < 0)
              {
               error = "a bad \\u escape at character " + IntegerToString(pos);
               return false;
              }
            code = code * 16 + h;
           }
         pos += 4;
         out += ShortToString((ushort)code);
        }
      else
        {
         error = "a bad escape at character " + IntegerToString(pos - 1);
         return false;
        }
     }
   error = "the text ends inside a string";
   return false;
  }

bool ReadJsonNumber(const string s, int &pos, string &out, string &error)
  {
   int n = StringLen(s), start = pos;
   if(pos < n && StringGetCharacter(s, pos) == '-')
      pos++;
   if(pos >= n || !IsDigit(StringGetCharacter(s, pos)))
     {
      error = "a bad number at character " + IntegerToString(start);
      return false;
     }
   if(StringGetCharacter(s, pos) == '0')
      pos++;
   else
      while(pos < n && IsDigit(StringGetCharacter(s, pos)))
         pos++;
   if(pos < n && StringGetCharacter(s, pos) == '.')
     {
      pos++;
      if(pos >= n || !IsDigit(StringGetCharacter(s, pos)))
        {
         error = "a bad fraction at character " + IntegerToString(pos);
         return false;
        }
      while(pos < n && IsDigit(StringGetCharacter(s, pos)))
         pos++;
     }
   if(pos < n && (StringGetCharacter(s, pos) == 'e' || StringGetCharacter(s, pos) == 'E'))
     {
      pos++;
      if(pos < n && (StringGetCharacter(s, pos) == '+' || StringGetCharacter(s, pos) == '-'))
         pos++;
      if(pos >= n || !IsDigit(StringGetCharacter(s, pos)))
        {
         error = "a bad exponent at character " + IntegerToString(pos);
         return false;
        }
      while(pos < n && IsDigit(StringGetCharacter(s, pos)))
         pos++;
     }
   out = StringSubstr(s, start, pos - start);
   return true;
  }

// Skips a nested object or array, strings included.
bool SkipJsonNested(const string s, int &pos, string &error)
  {
   int n = StringLen(s), depth = 0;
   while(pos < n)
     {
      ushort c = StringGetCharacter(s, pos);
      if(c == '"')
        {
         string ignored;
         if(!ReadJsonString(s, pos, ignored, error))
            return false;
         continue;
        }
      if(c == '{' || c == '[')
         depth++;
      else if(c == '}' || c == ']')
        {
         depth--;
         if(depth == 0)
           {
            pos++;
            return true;
           }
        }
      pos++;
     }
   error = "the text ends inside a nested value";
   return false;
  }

bool MatchLiteral(const string s, int &pos, const string word)
  {
   if(StringSubstr(s, pos, StringLen(word)) != word)
      return false;
   pos += StringLen(word);
   return true;
  }

// Parses one JSON object; false with `error` ("not JSON (...)", "not a JSON object").
bool ParseJsonObject(const string s, CJsonObject &obj, string &error)
  {
   int pos = 0, n = StringLen(s);
   SkipSpaces(s, pos);
   if(pos >= n || StringGetCharacter(s, pos) != '{')
     {
      error = (pos >= n ? "not JSON (the file is empty)" : "not a JSON object");
      return false;
     }
   pos++;
   SkipSpaces(s, pos);
   if(pos < n && StringGetCharacter(s, pos) == '}')
      pos++;
   else
      while(true)
        {
         string key, value, why;
         SkipSpaces(s, pos);
         if(!ReadJsonString(s, pos, key, why))
           {
            error = "not JSON (" + why + ")";
            return false;
           }
         SkipSpaces(s, pos);
         if(pos >= n || StringGetCharacter(s, pos) != ':')
           {
            error = "not JSON (':' expected at character " + IntegerToString(pos) + ")";
            return false;
           }
         pos++;
         SkipSpaces(s, pos);
         if(pos >= n)
           {
            error = "not JSON (the text ends after a key)";
            return false;
           }
         ushort c = StringGetCharacter(s, pos);
         int type = 0;
         bool ok = true;
         if(c == '"')
           { type = J_STRING; ok = ReadJsonString(s, pos, value, why); }
         else if(c == '-' || IsDigit(c))
           { type = J_NUMBER; ok = ReadJsonNumber(s, pos, value, why); }
         else if(MatchLiteral(s, pos, "true"))
           { type = J_BOOL; value = "true"; }
         else if(MatchLiteral(s, pos, "false"))
           { type = J_BOOL; value = "false"; }
         else if(MatchLiteral(s, pos, "null"))
           { type = J_NULL; value = ""; }
         else if(c == '{' || c == '[')
           { type = J_OTHER; ok = SkipJsonNested(s, pos, why); }
         else
           { ok = false; why = "an unexpected character at " + IntegerToString(pos); }
         if(!ok)
           {
            error = "not JSON (" + why + ")";
            return false;
           }
         obj.Add(key, type, value);
         SkipSpaces(s, pos);
         if(pos < n && StringGetCharacter(s, pos) == ',')
           {
            pos++;
            continue;
           }
         if(pos < n && StringGetCharacter(s, pos) == '}')
           {
            pos++;
            break;
           }
         error = "not JSON (',' or '}' expected at character " + IntegerToString(pos) + ")";
         return false;
        }
   SkipSpaces(s, pos);
   if(pos != n)
     {
      error = "not JSON (text after the object at character " + IntegerToString(pos) + ")";
      return false;
     }
   return true;
  }

// Typed reads: false with a sentence naming the field ("volume must be a number").
bool JsonString(CJsonObject &obj, const string key, string &out, string &error)
  {
   int i = obj.Find(key);
   if(i < 0) { error = key + " is missing"; return false; }
   if(obj.types[i] != J_STRING) { error = key + " must be a string"; return false; }
   out = obj.values[i];
   return true;
  }

bool JsonNumber(CJsonObject &obj, const string key, double &out, string &error)
  {
   int i = obj.Find(key);
   if(i < 0) { error = key + " is missing"; return false; }
   if(obj.types[i] != J_NUMBER) { error = key + " must be a number"; return false; }
   out = StringToDouble(obj.values[i]);
   if(!MathIsValidNumber(out)) { error = key + " is not a finite number"; return false; }
   return true;
  }

bool JsonInteger(CJsonObject &obj, const string key, long &out, string &error)
  {
   int i = obj.Find(key);
   if(i < 0) { error = key + " is missing"; return false; }
   string text = obj.values[i];
   if(obj.types[i] != J_NUMBER || StringFind(text, ".") >= 0 || StringFind(text, "e") >= 0 || StringFind(text, "E") >= 0)
     { error = key + " must be an integer"; return false; }
   if(StringLen(text) > (StringGetCharacter(text, 0) == '-' ? 19 : 18))
     { error = key + " is out of range"; return false; }
   out = StringToInteger(text);
   return true;
  }

//==================== JSON: writing ====================
string JsonEscape(const string s)
  {
   string out = "";
   int n = StringLen(s);
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(s, i);
      if(c == '"') out += "\\\"";
      else if(c == '\\') out += "\\\\";
      else if(c == '\n') out += "\\n";
      else if(c == '\r') out += "\\r";
      else if(c == '\t') out += "\\t";
      else if(c < 0x20) out += StringFormat("\\u%04x", c);
      else out += ShortToString(c);
     }
   return out;
  }

// A JSON number: never NaN or Infinity (the protocol forbids them), no trailing zeros.
string JsonDouble(const double value)
  {
   if(!MathIsValidNumber(value))
      return "0";
   string text = DoubleToString(value, 8);
   if(StringFind(text, ".") >= 0)
     {
      int n = StringLen(text);
      while(n > 0 && StringGetCharacter(text, n - 1) == '0')
         n--;
      if(n > 0 && StringGetCharacter(text, n - 1) == '.')
         n--;
      text = StringSubstr(text, 0, n);
     }
   return (text == "-0" ? "0" : text);
  }

string JStr(const string key, const string value)  { return "\"" + key + "\":\"" + JsonEscape(value) + "\""; }
string JInt(const string key, const long value)    { return "\"" + key + "\":" + IntegerToString(value); }
string JNum(const string key, const double value)  { return "\"" + key + "\":" + JsonDouble(value); }
string JBool(const string key, const bool value)   { return "\"" + key + "\":" + (value ? "true" : "false"); }

//==================== Files: read, claim, write atomically ====================
bool ReadTextFile(const string name, string &text, string &error)
  {
   ResetLastError();
   int handle = FileOpen(name, FILE_READ | FILE_BIN | FILE_SHARE_READ);
   if(handle == INVALID_HANDLE)
     {
      error = "cannot be opened (error " + IntegerToString(GetLastError()) + ")";
      return false;
     }
   ulong size = FileSize(handle);
   if(size > MAX_COMMAND_BYTES)
     {
      FileClose(handle);
      error = "is larger than " + IntegerToString(MAX_COMMAND_BYTES) + " bytes";
      return false;
     }
   text = "";
   if(size > 0)
     {
      uchar bytes[];
      uint read = FileReadArray(handle, bytes, 0, (int)size);
      text = CharArrayToString(bytes, 0, (int)read, CP_UTF8);
     }
   FileClose(handle);
   if(StringLen(text) > 0 && StringGetCharacter(text, 0) == 0xFEFF)
      text = StringSubstr(text, 1);   // a BOM is allowed
   return true;
  }

// Writes <name>.tmp, then renames it over <name>: a reader never sees half a file.
// On Windows the rename fails while the host reads the old file: it is tried again.
bool WriteFileAtomically(const string name, const string text, const int attempts)
  {
   string temporary = name + ".tmp";
   uchar bytes[];
   int count = StringToCharArray(text, bytes, 0, WHOLE_ARRAY, CP_UTF8) - 1;   // without the terminating 0
   ResetLastError();
   int handle = FileOpen(temporary, FILE_WRITE | FILE_BIN);
   if(handle == INVALID_HANDLE)
     {
      Log(LOG_ERROR, "cannot write " + temporary + " (error " + IntegerToString(GetLastError()) + ")");
      return false;
     }
   uint written = (count > 0 ? FileWriteArray(handle, bytes, 0, count) : 0);
   FileClose(handle);
   if((int)written != MathMax(count, 0))
     {
      FileDelete(temporary);
      Log(LOG_ERROR, "short write of " + temporary);
      return false;
     }
   for(int attempt = 0; attempt < attempts; attempt++)
     {
      if(FileMove(temporary, 0, name, FILE_REWRITE))
         return true;
      Sleep(20);
     }
   Log(LOG_WARNING, "could not rename " + temporary + " over " + name + " (error " + IntegerToString(GetLastError()) + "); kept for the next try");
   return false;
  }

//==================== Helpers ====================
long NowMsc()
  {
   return (long)TimeGMT() * 1000;   // the host judges staleness by its own clock, in whole seconds
  }

bool StartsWith(const string text, const string prefix)
  {
   return StringSubstr(text, 0, StringLen(prefix)) == prefix;
  }

bool IsCommandId(const string id)
  {
   int n = StringLen(id);
   if(n < 1 || n > MAX_ID_LENGTH)
      return false;
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(id, i);
      if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' || c == '-'))
         return false;
     }
   return true;
  }

// The link of a slave position: "COPY_" + order_id, cut to the comment's length.
string CommandLink(const string order_id)
  {
   return StringSubstr(LINK_PREFIX + order_id, 0, COMMENT_LENGTH);
  }

// Whether a comment's first word is the link to order_id, whole or cut to fit beside a client id.
bool CarriesLink(const string comment, const string order_id)
  {
   int space = StringFind(comment, " ");
   string word = (space < 0 ? comment : StringSubstr(comment, 0, space));
   string link = LINK_PREFIX + order_id;
   return StringLen(word) > StringLen(LINK_PREFIX) && StringSubstr(link, 0, StringLen(word)) == word;
  }

bool TradingPermitted(string &why, long &code)
  {
   if(!TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) || !MQLInfoInteger(MQL_TRADE_ALLOWED))
     {
      code = RC_CLIENT_DISABLES_AT;
      why = "AutoTrading is off in the terminal or for this EA";
      return false;
     }
   if(!AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) || !AccountInfoInteger(ACCOUNT_TRADE_EXPERT))
     {
      code = RC_TRADE_DISABLED;
      why = "the account does not allow trading by Expert Advisors";
      return false;
     }
   return true;
  }

//==================== Commands ====================
struct CommandResult
  {
   long              retcode;
   ulong             ticket;
   double            price;
   string            message;
   ulong             order;
   ulong             deal;
   double            volume;
   double            bid;
   double            ask;
  };

void Refuse(CommandResult &r, const long code, const string reason)
  {
   r.retcode = code;
   r.message = RetcodeWords(code) + ": " + reason;
  }

// Rounds lots to the symbol's step and checks its minimum and maximum; false with the reason.
bool VolumeNormalize(const string symbol, const double wanted, double &lots, string &why)
  {
   double vmin = SymbolInfoDouble(symbol, SYMBOL_VOLUME_MIN);
   double vmax = SymbolInfoDouble(symbol, SYMBOL_VOLUME_MAX);
   double step = SymbolInfoDouble(symbol, SYMBOL_VOLUME_STEP);
   if(step <= 0)
      step = (vmin > 0 ? vmin : 0.01);
   double steps = MathRound(wanted / step);
   if(MathAbs(steps * step - wanted) > step * 1e-6)
     {
      why = "volume " + JsonDouble(wanted) + " is not a multiple of the step " + JsonDouble(step) + " of " + symbol;
      return false;
     }
   lots = NormalizeDouble(steps * step, 8);
   if(lots < vmin - 1e-9)
     {
      why = "volume " + JsonDouble(wanted) + " is below the minimum " + JsonDouble(vmin) + " of " + symbol;
      return false;
     }
   if(vmax > 0 && lots > vmax + 1e-9)
     {
      why = "volume " + JsonDouble(wanted) + " is above the maximum " + JsonDouble(vmax) + " of " + symbol;
      return false;
     }
   return true;
  }

// The filling asked for when the symbol allows it (SYMBOL_FILLING_MODE), else the first it allows.
bool FillingChoose(const string symbol, const string wanted, const bool pending, ENUM_ORDER_TYPE_FILLING &filling, string &why)
  {
   long modes = SymbolInfoInteger(symbol, SYMBOL_FILLING_MODE);
   long execution = SymbolInfoInteger(symbol, SYMBOL_TRADE_EXEMODE);
   bool fok = (modes & SYMBOL_FILLING_FOK) != 0;
   bool ioc = (modes & SYMBOL_FILLING_IOC) != 0;
   bool ret = pending || execution != SYMBOL_TRADE_EXECUTION_MARKET;
   if(wanted == "FOK" && fok) { filling = ORDER_FILLING_FOK; return true; }
   if(wanted == "IOC" && ioc) { filling = ORDER_FILLING_IOC; return true; }
   if(wanted == "RETURN" && ret) { filling = ORDER_FILLING_RETURN; return true; }
   if(fok) { filling = ORDER_FILLING_FOK; return true; }
   if(ioc) { filling = ORDER_FILLING_IOC; return true; }
   if(ret) { filling = ORDER_FILLING_RETURN; return true; }
   why = symbol + " allows no filling mode this request can use";
   return false;
  }

// The open position a CLOSE or MODIFY acts on: by ticket, or for a slave by its link (oldest first).
bool PositionFind(const long ticket, const string order_id, ulong &found, string &why)
  {
   if(ticket > 0)
     {
      if(PositionSelectByTicket((ulong)ticket))
        {
         found = (ulong)ticket;
         return true;
        }
      why = "position " + IntegerToString(ticket) + " is not open";
      return false;
     }
   if(order_id == "")
     {
      why = "CLOSE and MODIFY need a ticket";
      return false;
     }
   long oldest = LONG_MAX;
   found = 0;
   for(int i = PositionsTotal() - 1; i >= 0; i--)
     {
      ulong candidate = PositionGetTicket(i);
      if(candidate == 0 || !PositionSelectByTicket(candidate))
         continue;
      if(!CarriesLink(PositionGetString(POSITION_COMMENT), order_id))
         continue;
      long opened = PositionGetInteger(POSITION_TIME_MSC);
      if(opened < oldest || (opened == oldest && candidate < found))
        {
         oldest = opened;
         found = candidate;
        }
     }
   if(found == 0)
     {
      why = "no open position carries " + CommandLink(order_id);
      return false;
     }
   PositionSelectByTicket(found);
   return true;
  }

// Reads, checks and carries out one command; `kind` is "webhook", "slave" or "check".
void CommandExecute(const string kind, const string text, const string command_id, CommandResult &r)
  {
   CJsonObject cmd;
   string error;
   if(!ParseJsonObject(text, cmd, error))
     {
      Refuse(r, RC_INVALID, error);
      return;
     }
   long version, account, expires, ticket, deviation, magic, timestamp;
   double volume, price, stop_loss, take_profit;
   string id, action, order_type, symbol, original_symbol, filling_name, comment, order_id = "";
   if(!JsonInteger(cmd, "version", version, error) || !JsonString(cmd, "command_id", id, error)
      || !JsonInteger(cmd, "timestamp", timestamp, error) || !JsonInteger(cmd, "expires_msc", expires, error)
      || !JsonInteger(cmd, "account", account, error) || !JsonString(cmd, "action", action, error)
      || !JsonString(cmd, "order_type", order_type, error) || !JsonString(cmd, "symbol", symbol, error)
      || !JsonString(cmd, "original_symbol", original_symbol, error) || !JsonNumber(cmd, "volume", volume, error)
      || !JsonNumber(cmd, "price", price, error) || !JsonNumber(cmd, "stop_loss", stop_loss, error)
      || !JsonNumber(cmd, "take_profit", take_profit, error) || !JsonInteger(cmd, "ticket", ticket, error)
      || !JsonInteger(cmd, "deviation", deviation, error) || !JsonString(cmd, "filling", filling_name, error)
      || !JsonInteger(cmd, "magic", magic, error) || !JsonString(cmd, "comment", comment, error)
      || (kind == "slave" && !JsonString(cmd, "order_id", order_id, error)))
     {
      Refuse(r, RC_INVALID, error);
      return;
     }
   if(version != PROTOCOL_VERSION)
     { Refuse(r, RC_INVALID, "protocol version " + IntegerToString(version) + " is not supported"); return; }
   if(id != command_id)
     { Refuse(r, RC_INVALID, "command_id differs from the file name"); return; }
   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   if(account != login)
     { Refuse(r, RC_INVALID, "command for account " + IntegerToString(account) + "; this terminal is logged in to " + IntegerToString(login)); return; }
   if(NowMsc() > expires)
     { Refuse(r, RC_TIMEOUT, "the command expired before the EA reached it"); return; }
   if(kind == "slave" && (StringLen(order_id) < 1 || StringLen(order_id) > MAX_ID_LENGTH))
     { Refuse(r, RC_INVALID, "order_id must be 1 to 64 characters"); return; }
   if(filling_name != "FOK" && filling_name != "IOC" && filling_name != "RETURN")
     { Refuse(r, RC_INVALID, "unknown filling '" + filling_name + "'"); return; }
   if(volume < 0 || price < 0 || stop_loss < 0 || take_profit < 0 || ticket < 0 || deviation < 0 || magic < 0)
     { Refuse(r, RC_INVALID, "volume, prices, ticket, deviation and magic must not be negative"); return; }
   if(!TerminalInfoInteger(TERMINAL_CONNECTED))
     { Refuse(r, RC_CONNECTION, "the terminal is not connected to its trade server"); return; }
   long denied_code;
   string denied;
   if(!TradingPermitted(denied, denied_code))
     { Refuse(r, denied_code, denied); return; }
   if(kind == "slave" && !CarriesLink(comment, order_id))
      comment = CommandLink(order_id);   // the link is what later closes find the position by
   comment = StringSubstr(comment, 0, COMMENT_LENGTH);

   MqlTradeRequest request;
   ZeroMemory(request);
   request.magic = (ulong)magic;
   request.deviation = (ulong)deviation;
   request.comment = comment;
   bool opening = (action == "BUY" || action == "SELL");
   bool pending = opening && (order_type == "limit" || order_type == "stop");
   if(opening && !pending && order_type != "market")
     { Refuse(r, RC_INVALID, "unknown order_type '" + order_type + "'"); return; }
   if(!opening && order_type != "market")
     { Refuse(r, RC_INVALID, action + " takes order_type market"); return; }

   if(opening)
     {
      if(!SymbolSelect(symbol, true))
        { Refuse(r, RC_INVALID, "symbol " + symbol + " is not offered here (asked for " + original_symbol + ")"); return; }
      long trade_mode = SymbolInfoInteger(symbol, SYMBOL_TRADE_MODE);
      bool buy = (action == "BUY");
      if(trade_mode == SYMBOL_TRADE_MODE_DISABLED) { Refuse(r, RC_TRADE_DISABLED, "trading " + symbol + " is disabled"); return; }
      if(trade_mode == SYMBOL_TRADE_MODE_CLOSEONLY) { Refuse(r, RC_CLOSE_ONLY, symbol + " only allows closing"); return; }
      if(trade_mode == SYMBOL_TRADE_MODE_LONGONLY && !buy) { Refuse(r, RC_LONG_ONLY, symbol + " allows long positions only"); return; }
      if(trade_mode == SYMBOL_TRADE_MODE_SHORTONLY && buy) { Refuse(r, RC_SHORT_ONLY, symbol + " allows short positions only"); return; }
      double lots;
      if(!VolumeNormalize(symbol, volume, lots, error)) { Refuse(r, RC_INVALID_VOLUME, error); return; }
      ENUM_ORDER_TYPE_FILLING filling;
      if(!FillingChoose(symbol, filling_name, pending, filling, error)) { Refuse(r, RC_INVALID_FILL, error); return; }
      int digits = (int)SymbolInfoInteger(symbol, SYMBOL_DIGITS);
      request.symbol = symbol;
      request.volume = lots;
      request.type_filling = filling;
      request.sl = (stop_loss > 0 ? NormalizeDouble(stop_loss, digits) : 0.0);
      request.tp = (take_profit > 0 ? NormalizeDouble(take_profit, digits) : 0.0);
      if(pending)
        {
         if(price <= 0) { Refuse(r, RC_INVALID_PRICE, "a " + order_type + " order needs a price"); return; }
         request.action = TRADE_ACTION_PENDING;
         request.price = NormalizeDouble(price, digits);
         request.type_time = ORDER_TIME_GTC;
         if(order_type == "limit") request.type = (buy ? ORDER_TYPE_BUY_LIMIT : ORDER_TYPE_SELL_LIMIT);
         else request.type = (buy ? ORDER_TYPE_BUY_STOP : ORDER_TYPE_SELL_STOP);
        }
      else
        {
         MqlTick tick;
         if(!SymbolInfoTick(symbol, tick) || tick.ask <= 0 || tick.bid <= 0)
           { Refuse(r, RC_PRICE_OFF, "no quote for " + symbol); return; }
         request.action = TRADE_ACTION_DEAL;
         request.type = (buy ? ORDER_TYPE_BUY : ORDER_TYPE_SELL);
         request.price = (buy ? tick.ask : tick.bid);
        }
     }
   else if(action == "CLOSE" || action == "MODIFY")
     {
      ulong position;
      if(!PositionFind(ticket, (kind == "slave" ? order_id : ""), position, error))
        { Refuse(r, (ticket == 0 && kind != "slave") ? RC_INVALID : RC_POSITION_CLOSED, error); return; }
      string held = PositionGetString(POSITION_SYMBOL);
      int digits = (int)SymbolInfoInteger(held, SYMBOL_DIGITS);
      request.symbol = held;
      request.position = position;
      r.ticket = position;
      if(action == "MODIFY")
        {
         request.action = TRADE_ACTION_SLTP;
         request.sl = (stop_loss > 0 ? NormalizeDouble(stop_loss, digits) : 0.0);
         request.tp = (take_profit > 0 ? NormalizeDouble(take_profit, digits) : 0.0);
        }
      else
        {
         double open_lots = PositionGetDouble(POSITION_VOLUME);
         bool long_position = (PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY);
         double lots = open_lots;
         if(volume > 0 && volume < open_lots - 1e-9 && !VolumeNormalize(held, volume, lots, error))
           { Refuse(r, RC_INVALID_VOLUME, "closing part of position " + IntegerToString(position) + ": " + error); return; }
         ENUM_ORDER_TYPE_FILLING filling;
         if(!FillingChoose(held, filling_name, false, filling, error)) { Refuse(r, RC_INVALID_FILL, error); return; }
         MqlTick tick;
         if(!SymbolInfoTick(held, tick) || tick.ask <= 0 || tick.bid <= 0)
           { Refuse(r, RC_PRICE_OFF, "no quote for " + held); return; }
         request.action = TRADE_ACTION_DEAL;
         request.volume = lots;
         request.type = (long_position ? ORDER_TYPE_SELL : ORDER_TYPE_BUY);
         request.price = (long_position ? tick.bid : tick.ask);
         request.type_filling = filling;
        }
     }
   else if(action == "CANCEL")
     {
      if(ticket <= 0 || !OrderSelect((ulong)ticket))
        { Refuse(r, RC_INVALID_ORDER, "no pending order " + IntegerToString(ticket)); return; }
      request.action = TRADE_ACTION_REMOVE;
      request.order = (ulong)ticket;
      request.symbol = OrderGetString(ORDER_SYMBOL);
      r.ticket = (ulong)ticket;
     }
   else
     {
      Refuse(r, RC_INVALID, "unknown action '" + action + "'");
      return;
     }

   if(kind == "check")
     {
      MqlTradeCheckResult checked;
      ZeroMemory(checked);
      bool passed = OrderCheck(request, checked);
      r.retcode = (passed ? 0 : (checked.retcode != 0 ? checked.retcode : RC_INVALID));
      r.message = (passed ? "Done" : RetcodeWords(r.retcode) + (checked.comment != "" ? ": " + checked.comment : ""));
      r.ticket = 0;
      return;
     }
   MqlTradeResult result;
   ZeroMemory(result);
   ResetLastError();
   bool sent = OrderSend(request, result);
   if(!sent && result.retcode == 0)
     {
      Refuse(r, RC_ERROR, "OrderSend failed before reaching the server (error " + IntegerToString(GetLastError()) + ")");
      return;
     }
   r.retcode = result.retcode;
   r.order = result.order;
   r.deal = result.deal;
   r.volume = result.volume;
   r.price = result.price;
   r.bid = result.bid;
   r.ask = result.ask;
   r.message = RetcodeWords(result.retcode) + (result.comment != "" ? ": " + result.comment : "");
   if(r.ticket == 0)
     {
      // A market order opened a position: its ticket is the deal's position id.
      r.ticket = result.order;
      if(result.deal > 0 && HistoryDealSelect(result.deal))
         r.ticket = (ulong)HistoryDealGetInteger(result.deal, DEAL_POSITION_ID);
     }
   Log(LOG_INFO, kind + " command " + command_id + ": " + action + " " + request.symbol + " -> " + r.message);
  }

void ResultWrite(const string command_id, CommandResult &r)
  {
   string body = "{" + JStr("command_id", command_id) + "," + JInt("retcode", r.retcode) + ","
                 + JInt("ticket", (long)r.ticket) + "," + JNum("price", r.price) + "," + JStr("message", r.message) + ","
                 + JInt("order", (long)(r.order != 0 ? r.order : r.ticket)) + "," + JInt("deal", (long)r.deal) + ","
                 + JNum("volume", r.volume) + "," + JNum("bid", r.bid) + "," + JNum("ask", r.ask) + "}";
   if(!WriteFileAtomically("result_" + command_id + ".json", body, 50))
      Log(LOG_ERROR, "the result of command " + command_id + " could not be written; the host will reconcile");
  }

// A command file: claimed by deleting it, answered with a result whatever it holds.
void CommandHandle(const string name, const string kind, const string command_id)
  {
   string text, error;
   bool readable = ReadTextFile(name, text, error);
   if(!FileDelete(name))
      return;   // the host withdrew it first (or holds it): not ours to run
   CommandResult r;
   ZeroMemory(r);
   if(!readable)
      Refuse(r, RC_INVALID, "the command file " + error);
   else
      CommandExecute(kind, text, command_id, r);
   if(r.retcode != RC_DONE && r.retcode != 0 && r.retcode != 10008 && r.retcode != 10010)
      Log(LOG_WARNING, kind + " command " + command_id + " refused: " + r.message);
   StatusWrite();   // first the snapshot, then the result: a host with the result sees the trade
   ResultWrite(command_id, r);
  }

void CommandsCollect(const string pattern, const string prefix, const string kind, string &names[], string &kinds[], string &ids[])
  {
   string found;
   long search = FileFindFirst(pattern, found);
   if(search == INVALID_HANDLE)
      return;
   do
     {
      int n = StringLen(found);
      if(!StartsWith(found, prefix) || n <= StringLen(prefix) + 5 || StringSubstr(found, n - 5) != ".json")
         continue;   // *.json.tmp and other names are not commands
      string id = StringSubstr(found, StringLen(prefix), n - StringLen(prefix) - 5);
      if(!IsCommandId(id))
        {
         Log(LOG_WARNING, "ignoring " + found + ": its id is not 1 to 64 of A-Z a-z 0-9 _ -");
         continue;
        }
      int k = ArraySize(names);
      ArrayResize(names, k + 1);
      ArrayResize(kinds, k + 1);
      ArrayResize(ids, k + 1);
      names[k] = found;
      kinds[k] = kind;
      ids[k] = id;
     }
   while(FileFindNext(search, found));
   FileFindClose(search);
  }

// Pending commands of the due kinds, oldest command_id first, one at a time.
void CommandsRun(const bool webhook_due, const bool slave_due)
  {
   string names[], kinds[], ids[];
   if(webhook_due)
      CommandsCollect(Webhook_FilePattern, WEBHOOK_PREFIX, "webhook", names, kinds, ids);
   if(slave_due)
      CommandsCollect(Slave_FilePattern, SLAVE_PREFIX, "slave", names, kinds, ids);
   CommandsCollect(CHECK_PREFIX + "*.json", CHECK_PREFIX, "check", names, kinds, ids);
   int n = ArraySize(ids);
   for(int i = 1; i < n; i++)   // insertion sort by command_id (ids start with their epoch ms)
      for(int j = i; j > 0 && StringCompare(ids[j - 1], ids[j], true) > 0; j--)
        {
         string t = ids[j]; ids[j] = ids[j - 1]; ids[j - 1] = t;
         t = names[j]; names[j] = names[j - 1]; names[j - 1] = t;
         t = kinds[j]; kinds[j] = kinds[j - 1]; kinds[j - 1] = t;
        }
   for(int i = 0; i < n; i++)
      CommandHandle(names[i], kinds[i], ids[i]);
  }

//==================== status.json ====================
string StatusAccount()
  {
   bool connected = (TerminalInfoInteger(TERMINAL_CONNECTED) != 0);
   bool trade_allowed = connected && TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) && MQLInfoInteger(MQL_TRADE_ALLOWED)
                        && AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) && AccountInfoInteger(ACCOUNT_TRADE_EXPERT);
   return "{" + JInt("login", AccountInfoInteger(ACCOUNT_LOGIN)) + "," + JStr("server", AccountInfoString(ACCOUNT_SERVER)) + ","
          + JStr("name", AccountInfoString(ACCOUNT_NAME)) + "," + JStr("currency", AccountInfoString(ACCOUNT_CURRENCY)) + ","
          + JInt("leverage", AccountInfoInteger(ACCOUNT_LEVERAGE)) + "," + JNum("balance", AccountInfoDouble(ACCOUNT_BALANCE)) + ","
          + JNum("equity", AccountInfoDouble(ACCOUNT_EQUITY)) + "," + JNum("margin", AccountInfoDouble(ACCOUNT_MARGIN)) + ","
          + JNum("margin_free", AccountInfoDouble(ACCOUNT_MARGIN_FREE)) + "," + JNum("profit", AccountInfoDouble(ACCOUNT_PROFIT)) + ","
          + JInt("margin_mode", AccountInfoInteger(ACCOUNT_MARGIN_MODE)) + "," + JBool("trade_allowed", trade_allowed) + "}";
  }

string StatusSymbols()
  {
   string items = "";
   int total = SymbolsTotal(true);
   for(int i = 0; i < total; i++)
     {
      string name = SymbolName(i, true);
      MqlTick tick;
      ZeroMemory(tick);
      SymbolInfoTick(name, tick);
      string item = "{" + JStr("name", name) + "," + JStr("description", SymbolInfoString(name, SYMBOL_DESCRIPTION)) + ","
                    + JInt("digits", SymbolInfoInteger(name, SYMBOL_DIGITS)) + "," + JNum("point", SymbolInfoDouble(name, SYMBOL_POINT)) + ","
                    + JNum("trade_tick_size", SymbolInfoDouble(name, SYMBOL_TRADE_TICK_SIZE)) + ","
                    + JNum("trade_tick_value", SymbolInfoDouble(name, SYMBOL_TRADE_TICK_VALUE)) + ","
                    + JNum("trade_contract_size", SymbolInfoDouble(name, SYMBOL_TRADE_CONTRACT_SIZE)) + ","
                    + JNum("volume_min", SymbolInfoDouble(name, SYMBOL_VOLUME_MIN)) + ","
                    + JNum("volume_step", SymbolInfoDouble(name, SYMBOL_VOLUME_STEP)) + ","
                    + JNum("volume_max", SymbolInfoDouble(name, SYMBOL_VOLUME_MAX)) + ","
                    + JInt("filling_mode", SymbolInfoInteger(name, SYMBOL_FILLING_MODE)) + ","
                    + JInt("trade_stops_level", SymbolInfoInteger(name, SYMBOL_TRADE_STOPS_LEVEL)) + ","
                    + JInt("trade_mode", SymbolInfoInteger(name, SYMBOL_TRADE_MODE)) + ","
                    + JStr("currency_profit", SymbolInfoString(name, SYMBOL_CURRENCY_PROFIT)) + ","
                    + JNum("bid", tick.bid) + "," + JNum("ask", tick.ask) + "," + JInt("time_msc", tick.time_msc) + "}";
      items += (items == "" ? "" : ",") + item;
     }
   return "[" + items + "]";
  }

string StatusPositions()
  {
   string items = "";
   for(int i = 0; i < PositionsTotal(); i++)
     {
      ulong ticket = PositionGetTicket(i);
      if(ticket == 0 || !PositionSelectByTicket(ticket))
         continue;
      string item = "{" + JInt("ticket", (long)ticket) + "," + JStr("symbol", PositionGetString(POSITION_SYMBOL)) + ","
                    + JInt("type", PositionGetInteger(POSITION_TYPE)) + "," + JNum("volume", PositionGetDouble(POSITION_VOLUME)) + ","
                    + JNum("price_open", PositionGetDouble(POSITION_PRICE_OPEN)) + ","
                    + JNum("price_current", PositionGetDouble(POSITION_PRICE_CURRENT)) + ","
                    + JNum("sl", PositionGetDouble(POSITION_SL)) + "," + JNum("tp", PositionGetDouble(POSITION_TP)) + ","
                    + JNum("profit", PositionGetDouble(POSITION_PROFIT)) + "," + JInt("magic", PositionGetInteger(POSITION_MAGIC)) + ","
                    + JStr("comment", PositionGetString(POSITION_COMMENT)) + "," + JInt("time_msc", PositionGetInteger(POSITION_TIME_MSC)) + ","
                    + JInt("identifier", PositionGetInteger(POSITION_IDENTIFIER)) + "}";
      items += (items == "" ? "" : ",") + item;
     }
   return "[" + items + "]";
  }

string StatusOrders()
  {
   string items = "";
   for(int i = 0; i < OrdersTotal(); i++)
     {
      ulong ticket = OrderGetTicket(i);
      if(ticket == 0 || !OrderSelect(ticket))
         continue;
      string item = "{" + JInt("ticket", (long)ticket) + "," + JStr("symbol", OrderGetString(ORDER_SYMBOL)) + ","
                    + JInt("type", OrderGetInteger(ORDER_TYPE)) + "," + JNum("volume_initial", OrderGetDouble(ORDER_VOLUME_INITIAL)) + ","
                    + JNum("volume_current", OrderGetDouble(ORDER_VOLUME_CURRENT)) + ","
                    + JNum("price_open", OrderGetDouble(ORDER_PRICE_OPEN)) + "," + JNum("sl", OrderGetDouble(ORDER_SL)) + ","
                    + JNum("tp", OrderGetDouble(ORDER_TP)) + "," + JInt("magic", OrderGetInteger(ORDER_MAGIC)) + ","
                    + JStr("comment", OrderGetString(ORDER_COMMENT)) + "," + JInt("time_setup_msc", OrderGetInteger(ORDER_TIME_SETUP_MSC)) + "}";
      items += (items == "" ? "" : ",") + item;
     }
   return "[" + items + "]";
  }

// The trade server's offset from GMT in seconds, to the nearest quarter hour: MT5 keeps deal
// times in server time, the protocol in UTC.
long ServerOffsetSeconds()
  {
   long offset = (long)(TimeTradeServer() - TimeGMT());
   return (long)MathRound(offset / 900.0) * 900;
  }

// One deal as the protocol's deal record (docs/ea-protocol.md, "Deal fields"), its time in UTC.
string DealRecord(const ulong ticket, const long offset_ms)
  {
   return "{" + JInt("ticket", (long)ticket) + "," + JInt("order", HistoryDealGetInteger(ticket, DEAL_ORDER)) + ","
          + JInt("position_id", HistoryDealGetInteger(ticket, DEAL_POSITION_ID)) + ","
          + JStr("symbol", HistoryDealGetString(ticket, DEAL_SYMBOL)) + "," + JInt("type", HistoryDealGetInteger(ticket, DEAL_TYPE)) + ","
          + JInt("entry", HistoryDealGetInteger(ticket, DEAL_ENTRY)) + "," + JNum("volume", HistoryDealGetDouble(ticket, DEAL_VOLUME)) + ","
          + JNum("price", HistoryDealGetDouble(ticket, DEAL_PRICE)) + "," + JNum("profit", HistoryDealGetDouble(ticket, DEAL_PROFIT)) + ","
          + JInt("magic", HistoryDealGetInteger(ticket, DEAL_MAGIC)) + "," + JStr("comment", HistoryDealGetString(ticket, DEAL_COMMENT)) + ","
          + JInt("time_msc", HistoryDealGetInteger(ticket, DEAL_TIME_MSC) - offset_ms) + ","
          + JInt("reason", HistoryDealGetInteger(ticket, DEAL_REASON)) + ","
          + JNum("commission", HistoryDealGetDouble(ticket, DEAL_COMMISSION)) + ","
          + JNum("swap", HistoryDealGetDouble(ticket, DEAL_SWAP)) + "," + JNum("fee", HistoryDealGetDouble(ticket, DEAL_FEE)) + "}";
  }

string StatusDeals()
  {
   string items = "";
   datetime now = TimeCurrent();
   if(!HistorySelect(now - DEALS_WINDOW_S, now + 3600))
      return "[]";
   long offset_ms = ServerOffsetSeconds() * 1000;
   int total = HistoryDealsTotal();
   for(int i = 0; i < total; i++)
     {
      ulong ticket = HistoryDealGetTicket(i);
      if(ticket == 0)
         continue;
      items += (items == "" ? "" : ",") + DealRecord(ticket, offset_ms);
     }
   return "[" + items + "]";
  }

// The snapshot the host reads for account, symbols, positions, orders and deals, and the
// EA's word on itself: its name, loaded, and running (Algo Trading on: it takes commands).
// last_error stays "": MQL5 gives an EA no access to the terminal's journal, where a
// refused login is written (see docs/ea-protocol.md, "Status snapshot").
void StatusWrite()
  {
   bool connected = (TerminalInfoInteger(TERMINAL_CONNECTED) != 0);
   bool running = g_loaded && TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) && MQLInfoInteger(MQL_TRADE_ALLOWED);
   string modes = (EnableWebhook ? "webhook " : "") + (EnableSlave ? "slave " : "") + (EnableMaster ? "master" : "");
   StringTrimRight(modes);
   string body = "{" + JInt("version", PROTOCOL_VERSION) + "," + JInt("time_msc", NowMsc()) + ","
                 + JBool("connected", connected) + "," + JStr("last_error", "") + ","
                 + JStr("ea_name", MQLInfoString(MQL_PROGRAM_NAME)) + "," + JBool("ea_loaded", g_loaded) + ","
                 + JBool("ea_running", running) + ","
                 + "\"account\":" + StatusAccount() + "," + "\"symbols\":" + StatusSymbols() + ","
                 + "\"positions\":" + StatusPositions() + "," + "\"orders\":" + StatusOrders() + ","
                 + "\"deals\":" + StatusDeals() + "," + JStr("ea_version", EA_VERSION) + "," + JStr("modes", modes) + ","
                 + JInt("master_queue", ArraySize(g_queue)) + "," + JInt("master_dropped", g_dropped) + "}";
   WriteFileAtomically(STATUS_FILE, body, 3);
   g_next_status_ms = GetTickCount64() + STATUS_EVERY_MS;
  }

//==================== Deals reports ====================
// The history between two moments, for the host's trade journal: a header line, then one deal
// record a line, oldest first (docs/ea-protocol.md, "Deals reports").
int DealsSelect(const long since_msc, const long until_msc, const long offset_ms, ulong &tickets[], string &error)
  {
   // HistorySelect takes server time in seconds: a second's margin each side, the exact window below.
   datetime from = (datetime)((since_msc + offset_ms) / 1000 - 1);
   datetime to = (datetime)((until_msc + offset_ms) / 1000 + 1);
   ResetLastError();
   if(!HistorySelect(from, to))
     {
      error = "HistorySelect failed (error " + IntegerToString(GetLastError()) + ")";
      return 0;
     }
   long times[];
   int n = 0, total = HistoryDealsTotal();
   ArrayResize(tickets, total);
   ArrayResize(times, total);
   for(int i = 0; i < total; i++)
     {
      ulong ticket = HistoryDealGetTicket(i);
      long at = (ticket == 0 ? 0 : HistoryDealGetInteger(ticket, DEAL_TIME_MSC) - offset_ms);
      if(ticket == 0 || at < since_msc || at > until_msc)
         continue;
      int j = n++;   // insertion by (time, ticket): the terminal's order is by time already
      while(j > 0 && (times[j - 1] > at || (times[j - 1] == at && tickets[j - 1] > ticket)))
        {
         times[j] = times[j - 1];
         tickets[j] = tickets[j - 1];
         j--;
        }
      times[j] = at;
      tickets[j] = ticket;
     }
   ArrayResize(tickets, n);
   return n;
  }

// A deals request: claimed by deleting it; answered with a report unless it is unreadable or expired.
void DealsRequestHandle(const string name, const string request_id)
  {
   string text, error;
   bool readable = ReadTextFile(name, text, error);
   if(!FileDelete(name))
      return;   // the host withdrew it first
   CJsonObject req;
   long version = 0, account = 0, since_msc = 0, until_msc = 0, limit = 0, expires = 0;
   string id = "";
   if(!readable || !ParseJsonObject(text, req, error) || !JsonInteger(req, "version", version, error)
      || !JsonString(req, "request_id", id, error) || !JsonInteger(req, "account", account, error)
      || !JsonInteger(req, "since_msc", since_msc, error) || !JsonInteger(req, "until_msc", until_msc, error)
      || !JsonInteger(req, "limit", limit, error) || !JsonInteger(req, "expires_msc", expires, error))
     {
      Log(LOG_WARNING, "deals request " + request_id + " refused: " + error);
      return;
     }
   if(version != PROTOCOL_VERSION || id != request_id || limit < 1 || limit > DEALS_REPORT_MAX || NowMsc() > expires)
     {
      Log(LOG_WARNING, "deals request " + request_id + " refused: another version or id, a limit outside 1 to 5000, or expired");
      return;
     }
   string problem = "", lines = "";
   int count = 0;
   bool complete = true;
   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   if(!TerminalInfoInteger(TERMINAL_CONNECTED))
      problem = "the terminal is not connected";
   else if(account != login)
      problem = "the terminal is logged in to " + IntegerToString(login);
   else
     {
      long offset_ms = ServerOffsetSeconds() * 1000;
      ulong tickets[];
      int found = DealsSelect(since_msc, until_msc, offset_ms, tickets, problem);
      count = (int)MathMin(found, limit);
      complete = (found <= limit);
      for(int i = 0; i < count; i++)
         lines += DealRecord(tickets[i], offset_ms) + "\n";
     }
   string header = "{" + JInt("version", PROTOCOL_VERSION) + "," + JStr("request_id", request_id) + "," + JInt("account", login) + ","
                   + JInt("count", count) + "," + JBool("complete", complete) + "," + JStr("error", problem) + "}\n";
   if(!WriteFileAtomically(DEALS_REPORT_PREFIX + request_id + ".jsonl", header + lines, 50))
      Log(LOG_ERROR, "the deals report " + request_id + " could not be written; the host will ask again");
  }

void DealsRequestsRun()
  {
   string found;
   long search = FileFindFirst(DEALS_REQUEST_PREFIX + "*.json", found);
   if(search == INVALID_HANDLE)
      return;
   string names[];
   do
     {
      int n = StringLen(found);
      if(StartsWith(found, DEALS_REQUEST_PREFIX) && n > StringLen(DEALS_REQUEST_PREFIX) + 5 && StringSubstr(found, n - 5) == ".json")
        {
         ArrayResize(names, ArraySize(names) + 1);
         names[ArraySize(names) - 1] = found;
        }
     }
   while(FileFindNext(search, found));
   FileFindClose(search);
   for(int i = 0; i < ArraySize(names); i++)
     {
      string id = StringSubstr(names[i], StringLen(DEALS_REQUEST_PREFIX), StringLen(names[i]) - StringLen(DEALS_REQUEST_PREFIX) - 5);
      if(IsCommandId(id))
         DealsRequestHandle(names[i], id);
      else
         Log(LOG_WARNING, "ignoring " + names[i] + ": its id is not 1 to 64 of A-Z a-z 0-9 _ -");
     }
  }

//==================== Master mode ====================
// Events wait in MASTER_QUEUE_FILE (first line: the cursor; then one request body a line),
// so a restart or an outage of the service loses none; each carries its stable id, and the
// service stores an event once by it, so a retry never copies twice.
void QueueSave()
  {
   string text = "{" + JInt("last_deal", (long)g_last_deal) + "," + JInt("dropped", g_dropped) + "}\n";
   for(int i = 0; i < ArraySize(g_queue); i++)
      text += g_queue[i] + "\n";
   WriteFileAtomically(MASTER_QUEUE_FILE, text, 20);
  }

void QueueLoad()
  {
   ArrayResize(g_queue, 0);
   g_have_cursor = false;
   if(!FileIsExist(MASTER_QUEUE_FILE))
      return;
   string text, error;
   if(!ReadTextFile(MASTER_QUEUE_FILE, text, error))
     {
      Log(LOG_ERROR, MASTER_QUEUE_FILE + " " + error + "; starting with an empty queue");
      return;
     }
   string lines[];
   int n = StringSplit(text, '\n', lines);
   for(int i = 0; i < n; i++)
     {
      string line = lines[i];
      StringTrimRight(line);
      if(line == "")
         continue;
      CJsonObject obj;
      if(!ParseJsonObject(line, obj, error))
        {
         Log(LOG_ERROR, MASTER_QUEUE_FILE + " line " + IntegerToString(i + 1) + " is " + error + "; dropped");
         continue;
        }
      long cursor;
      if(!g_have_cursor && JsonInteger(obj, "last_deal", cursor, error))
        {
         g_last_deal = (ulong)cursor;
         long dropped;
         if(JsonInteger(obj, "dropped", dropped, error))
            g_dropped = (int)dropped;
         g_have_cursor = true;
         continue;
        }
      int k = ArraySize(g_queue);
      ArrayResize(g_queue, k + 1);
      g_queue[k] = line;
     }
   Log(LOG_INFO, IntegerToString(ArraySize(g_queue)) + " master event(s) waiting from before");
  }

void QueueAdd(const string body, const string what)
  {
   int k = ArraySize(g_queue);
   if(k >= Master_QueueLimit)
     {
      g_dropped++;
      Log(LOG_ERROR, "master queue full (" + IntegerToString(Master_QueueLimit) + "): " + what + " NOT sent; is the service reachable?");
      QueueSave();
      return;
     }
   ArrayResize(g_queue, k + 1);
   g_queue[k] = body;
   QueueSave();
   Log(LOG_INFO, "master event queued: " + what);
  }

void QueueDropHead()
  {
   int n = ArraySize(g_queue);
   for(int i = 1; i < n; i++)
      g_queue[i - 1] = g_queue[i];
   ArrayResize(g_queue, MathMax(n - 1, 0));
   QueueSave();
  }

string MasterBody(const string event_name, const long position_id, const string event_id, const string extra)
  {
   return "{" + JStr("event", event_name) + "," + JStr("order_id", IntegerToString(position_id)) + ","
          + JStr("account", IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))) + "," + JStr("event_id", event_id)
          + (extra == "" ? "" : "," + extra) + "}";
  }

// Deals after the cursor become deal_add / deal_close events, oldest first.
void MasterScanDeals()
  {
   datetime now = TimeCurrent();
   if(!HistorySelect(now - 7 * DEALS_WINDOW_S, now + DEALS_WINDOW_S))
      return;
   int total = HistoryDealsTotal();
   ulong tickets[];
   for(int i = 0; i < total; i++)
     {
      ulong ticket = HistoryDealGetTicket(i);
      if(ticket > g_last_deal)
        {
         int k = ArraySize(tickets);
         ArrayResize(tickets, k + 1);
         tickets[k] = ticket;
        }
     }
   ArraySort(tickets);
   if(!g_have_cursor)
     {
      // First run: watching starts now; what the master traded before is not copied.
      g_last_deal = (ArraySize(tickets) > 0 ? tickets[ArraySize(tickets) - 1] : 0);
      g_have_cursor = true;
      QueueSave();
      return;
     }
   for(int i = 0; i < ArraySize(tickets); i++)
     {
      ulong ticket = tickets[i];
      g_last_deal = ticket;
      long type = HistoryDealGetInteger(ticket, DEAL_TYPE);
      string comment = HistoryDealGetString(ticket, DEAL_COMMENT);
      if((type != DEAL_TYPE_BUY && type != DEAL_TYPE_SELL) || StartsWith(comment, LINK_PREFIX))
         continue;   // balance operations; our own copies (the service passes those on itself)
      long entry = HistoryDealGetInteger(ticket, DEAL_ENTRY);
      long position_id = HistoryDealGetInteger(ticket, DEAL_POSITION_ID);
      string symbol = HistoryDealGetString(ticket, DEAL_SYMBOL);
      double volume = HistoryDealGetDouble(ticket, DEAL_VOLUME);
      string event_id = "deal-" + IntegerToString((long)ticket);
      if(entry == DEAL_ENTRY_IN && Master_SendOnOpen)
        {
         double sl = 0, tp = 0;
         if(PositionSelectByTicket((ulong)position_id))
           {
            sl = PositionGetDouble(POSITION_SL);
            tp = PositionGetDouble(POSITION_TP);
           }
         string extra = JStr("symbol", symbol) + "," + JStr("type", type == DEAL_TYPE_BUY ? "BUY" : "SELL") + ","
                        + JNum("volume", volume) + "," + JNum("sl", sl) + "," + JNum("tp", tp) + "," + JInt("deal", (long)ticket);
         QueueAdd(MasterBody("deal_add", position_id, event_id, extra), "deal_add " + symbol + " position " + IntegerToString(position_id));
        }
      else if((entry == DEAL_ENTRY_OUT || entry == DEAL_ENTRY_OUT_BY) && Master_SendOnClose)
        {
         string extra = JNum("volume", volume) + "," + JInt("deal", (long)ticket);
         QueueAdd(MasterBody("deal_close", position_id, event_id, extra), "deal_close position " + IntegerToString(position_id));
        }
      else if(entry == DEAL_ENTRY_INOUT && Master_SendOnClose)
        {
         // A netting reversal ends the old position: a full close (no volume).
         QueueAdd(MasterBody("deal_close", position_id, event_id, JInt("deal", (long)ticket)), "deal_close (reversal) position " + IntegerToString(position_id));
        }
     }
   if(ArraySize(tickets) > 0)
      QueueSave();
  }

// Positions whose SL/TP moved since the last scan become position_modify events.
void MasterScanStops()
  {
   int total = PositionsTotal();
   ulong ids[];
   double sls[], tps[];
   ArrayResize(ids, 0);
   for(int i = 0; i < total; i++)
     {
      ulong ticket = PositionGetTicket(i);
      if(ticket == 0 || !PositionSelectByTicket(ticket) || StartsWith(PositionGetString(POSITION_COMMENT), LINK_PREFIX))
         continue;
      long position_id = PositionGetInteger(POSITION_IDENTIFIER);
      double sl = PositionGetDouble(POSITION_SL), tp = PositionGetDouble(POSITION_TP);
      int k = ArraySize(ids);
      ArrayResize(ids, k + 1);
      ArrayResize(sls, k + 1);
      ArrayResize(tps, k + 1);
      ids[k] = (ulong)position_id;
      sls[k] = sl;
      tps[k] = tp;
      if(!g_pos_known || !Master_SendOnModify)
         continue;
      for(int j = 0; j < ArraySize(g_pos_ids); j++)
        {
         if(g_pos_ids[j] != (ulong)position_id)
            continue;
         if(g_pos_sl[j] != sl || g_pos_tp[j] != tp)
           {
            g_event_counter++;
            string event_id = "mod-" + IntegerToString(position_id) + "-" + IntegerToString(NowMsc()) + "-" + IntegerToString(g_event_counter);
            string extra = JNum("sl", sl) + "," + JNum("tp", tp) + "," + JStr("sequence", event_id);
            QueueAdd(MasterBody("position_modify", position_id, event_id, extra), "position_modify position " + IntegerToString(position_id));
           }
         break;
        }
     }
   ArrayResize(g_pos_ids, ArraySize(ids));
   ArrayResize(g_pos_sl, ArraySize(ids));
   ArrayResize(g_pos_tp, ArraySize(ids));
   for(int i = 0; i < ArraySize(ids); i++)
     {
      g_pos_ids[i] = ids[i];
      g_pos_sl[i] = sls[i];
      g_pos_tp[i] = tps[i];
     }
   g_pos_known = true;
  }

string MasterURL()
  {
   string base = Master_ServerURL;
   while(StringLen(base) > 0 && StringGetCharacter(base, StringLen(base) - 1) == '/')
      base = StringSubstr(base, 0, StringLen(base) - 1);
   return base + "/api/copy/trade";
  }

// Sends waiting events in order; the head blocks the rest, so a close never overtakes its open.
void MasterFlush()
  {
   for(int sent = 0; sent < 20 && ArraySize(g_queue) > 0 && GetTickCount64() >= g_next_send_ms; sent++)
     {
      uchar bytes[];
      int count = StringToCharArray(g_queue[0], bytes, 0, WHOLE_ARRAY, CP_UTF8) - 1;   // no terminating 0 in the body
      char body[], reply[];
      string reply_headers;
      ArrayResize(body, MathMax(count, 0));
      for(int i = 0; i < count; i++)
         body[i] = (char)bytes[i];
      string headers = "Content-Type: application/json\r\nX-API-Key: " + Master_APIKey + "\r\n";
      ResetLastError();
      int status = WebRequest("POST", MasterURL(), headers, Master_HttpTimeoutMs, body, reply, reply_headers);
      uchar reply_bytes[];
      ArrayResize(reply_bytes, ArraySize(reply));
      for(int i = 0; i < ArraySize(reply); i++)
         reply_bytes[i] = (uchar)reply[i];
      string answer = CharArrayToString(reply_bytes, 0, WHOLE_ARRAY, CP_UTF8);
      if(status == 200)
        {
         Log(LOG_DEBUG, "master event delivered: " + answer);
         QueueDropHead();
         g_backoff_ms = 0;
         continue;
        }
      if(status == 400 || status == 422)
        {
         // The service stored its answer (422: a close or modify of an order it never saw opened);
         // sending the same body again cannot change it.
         Log(LOG_WARNING, "master event refused (" + IntegerToString(status) + "), dropped: " + answer);
         QueueDropHead();
         continue;
        }
      if(status == -1 && GetLastError() == 4014)
         Log(LOG_ERROR, "WebRequest to " + MasterURL() + " is not allowed: add the address under Tools > Options > Expert Advisors");
      else if(status == 401 || status == 403)
         Log(LOG_ERROR, "the service refused the API key or account (" + IntegerToString(status) + "): check Master_APIKey; events wait");
      else
         Log(LOG_WARNING, "service unreachable (" + IntegerToString(status) + ", error " + IntegerToString(GetLastError()) + "); " + IntegerToString(ArraySize(g_queue)) + " event(s) wait");
      g_backoff_ms = (int)MathMin(MathMax(g_backoff_ms * 2, 1000), 60000);
      g_next_send_ms = GetTickCount64() + g_backoff_ms;
      return;
     }
  }

void MasterRound()
  {
   if(!TerminalInfoInteger(TERMINAL_CONNECTED))
      return;   // history and positions are not the account's until it is connected
   MasterScanDeals();
   MasterScanStops();
   MasterFlush();
  }

//==================== Set-up and events ====================
void CheckInstanceRoot()
  {
   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   if(g_root_checked || login == 0)
      return;
   g_root_checked = true;
   string data = TerminalInfoString(TERMINAL_DATA_PATH);
   string roots[2];
   roots[0] = (EnableWebhook ? Webhook_InstanceRootPath : "");
   roots[1] = (EnableSlave ? Slave_InstanceRootPath : "");
   for(int i = 0; i < 2; i++)
     {
      if(roots[i] == "")
         continue;
      string expected = roots[i] + "\\" + IntegerToString(login);
      string a = data, b = expected;
      StringToLower(a);
      StringToLower(b);
      StringReplace(b, "/", "\\");
      if(a != b)
         Log(LOG_WARNING, "this terminal's folder is " + data + ", not " + expected + ": the host writes this account's commands there");
     }
  }

int OnInit()
  {
   if(!EnableWebhook && !EnableMaster && !EnableSlave)
     { Print("mt5saas: enable at least one of EnableWebhook, EnableMaster, EnableSlave"); return INIT_PARAMETERS_INCORRECT; }
   if(EnableWebhook && (!StartsWith(Webhook_FilePattern, WEBHOOK_PREFIX) || StringFind(Webhook_FilePattern, ".json") < 0))
     { Print("mt5saas: Webhook_FilePattern must start with ", WEBHOOK_PREFIX, " and name .json files"); return INIT_PARAMETERS_INCORRECT; }
   if(EnableSlave && (!StartsWith(Slave_FilePattern, SLAVE_PREFIX) || StringFind(Slave_FilePattern, ".json") < 0))
     { Print("mt5saas: Slave_FilePattern must start with ", SLAVE_PREFIX, " and name .json files"); return INIT_PARAMETERS_INCORRECT; }
   if(Webhook_PollingSeconds < 0 || Webhook_PollingSeconds > 60 || Slave_PollingSeconds < 0 || Slave_PollingSeconds > 60)
     { Print("mt5saas: polling seconds must be 0 to 60"); return INIT_PARAMETERS_INCORRECT; }
   if(EnableMaster)
     {
      if(!StartsWith(Master_ServerURL, "https://") && !StartsWith(Master_ServerURL, "http://"))
        { Print("mt5saas: Master_ServerURL must start with https:// or http://"); return INIT_PARAMETERS_INCORRECT; }
      if(StringLen(Master_APIKey) < 8)
        { Print("mt5saas: Master_APIKey is empty; copy it from the copy pair"); return INIT_PARAMETERS_INCORRECT; }
      if(Master_QueueLimit < 10 || Master_QueueLimit > 100000 || Master_HttpTimeoutMs < 500 || Master_HttpTimeoutMs > 60000)
        { Print("mt5saas: Master_QueueLimit must be 10 to 100000 and Master_HttpTimeoutMs 500 to 60000"); return INIT_PARAMETERS_INCORRECT; }
      QueueLoad();
     }
   if(!EventSetMillisecondTimer(TIMER_MS))
     { Print("mt5saas: the timer could not be set"); return INIT_FAILED; }
   g_loaded = true;
   StatusWrite();
   Log(LOG_INFO, "started, protocol " + IntegerToString(PROTOCOL_VERSION) + ", files in " + TerminalInfoString(TERMINAL_DATA_PATH) + "\\MQL5\\Files");
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   if(EnableMaster)
      QueueSave();
   // Leaving for good: the host learns it at once instead of from a status gone stale. After
   // a recompile, new inputs, another symbol or period, or another account, OnInit follows
   // straight away and says loaded again, so those write nothing here.
   if(g_loaded && reason != REASON_RECOMPILE && reason != REASON_PARAMETERS && reason != REASON_CHARTCHANGE
      && reason != REASON_ACCOUNT)
     {
      g_loaded = false;
      StatusWrite();
     }
  }

void OnTimer()
  {
   ulong now = GetTickCount64();
   bool connected = (TerminalInfoInteger(TERMINAL_CONNECTED) != 0);
   if(connected)
      CheckInstanceRoot();
   bool webhook_due = EnableWebhook && now >= g_next_webhook_ms;
   bool slave_due = EnableSlave && now >= g_next_slave_ms;
   if(webhook_due)
      g_next_webhook_ms = now + (ulong)Webhook_PollingSeconds * 1000;
   if(slave_due)
      g_next_slave_ms = now + (ulong)Slave_PollingSeconds * 1000;
   if(webhook_due || slave_due)
      CommandsRun(webhook_due, slave_due);
   DealsRequestsRun();   // every tick: the host waits for its report
   if(EnableMaster)
      MasterRound();
   if(GetTickCount64() >= g_next_status_ms)
      StatusWrite();
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   // A trade happened: report it now rather than at the next timer round.
   if(EnableMaster && (trans.type == TRADE_TRANSACTION_DEAL_ADD || trans.type == TRADE_TRANSACTION_POSITION))
      MasterRound();
  }
//+------------------------------------------------------------------+
