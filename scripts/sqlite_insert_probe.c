// The store-side probe of docs/architecture.md, "At scale" (issue 18 item 2): inserts rows shaped like
// VeilBench scale's into the events table of Veil's schema through the system SQLite (16 KiB pages,
// WAL, synchronous = FULL, ON CONFLICT(event_id) DO NOTHING), and prints per interval the CPU and wall
// microseconds per event and SQLite's own counters (cache misses, pages written, spills), which a
// loaded machine does not change. Not part of the build.
//
//   gcc -O2 -o /tmp/probe scripts/sqlite_insert_probe.c -lsqlite3 -lpthread
//   S="CREATE UNIQUE INDEX IF NOT EXISTS eid ON events(event_id); CREATE INDEX IF NOT EXISTS events_day_pid ON events(ts_ms / 86400000, pid, ts_ms);"
//   /tmp/probe /tmp/p.db 3000000 time rand 1000000 "$S" 500000 262144   # DB N ORDER IDS TXN SCHEMA EVERY CACHE_KIB
//
// ORDER: time (event n at start + n · 120 days / N) or user (each user's events together, 94 per user);
// IDS: seq (scale-N, as VeilBench scale) or rand (auto: + 32 hex, as content keys or UUIDs);
// TXN: events per transaction; NOCONFLICT=1 in the environment for a schema without the unique index;
// DAYS=1 spreads the events over one day instead of 120 (live traffic: the day's stretch of events_day_pid).
// CKPT: the WAL's checkpoints during the inserts, as an import may run them —
//   auto (default): SQLite's automatic checkpoint at 1,000 pages, on the writer's commit;
//   bg:  the automatic checkpoint off, a PASSIVE checkpoint queued after each commit on a second
//        connection and thread (as WALCheckpointer during an import in batches);
//   end: no checkpoint until the last commit (the WAL holds every transaction), then one, timed.
// SHRINK_KIB=65536 sets the writer's cache to that size after each commit and back before the next
// transaction (as Veil before 604f226). Each line also gives the WAL's size, the checkpoints run and
// how many of them copied the whole WAL (after which the next transaction writes it from its start).
// GEN_ONLY=1 makes and binds every row without inserting it: the probe's own cost, to subtract.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <pthread.h>
#include <sys/stat.h>
static long fileBytes(const char*p){struct stat s;return stat(p,&s)?0:(long)s.st_size;}
// The background checkpointer of CKPT=bg: one PASSIVE checkpoint per commit, in order, on its own connection.
static pthread_mutex_t ckMutex=PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t ckCond=PTHREAD_COND_INITIALIZER;
static long ckRequested=0, ckDone=0, ckComplete=0; static int ckStop=0; static double ckCpuWall=0;
static void ck(int rc, sqlite3*db, const char*w);
static void*checkpointer(void*arg){
  sqlite3*c; if(sqlite3_open((const char*)arg,&c)!=SQLITE_OK){fprintf(stderr,"checkpointer: open\n");exit(1);}
  // A read opens the WAL on this connection (GRDB reads sqlite_master at open); before it, a
  // checkpoint finds no WAL and copies nothing.
  ck(sqlite3_exec(c,"SELECT count(*) FROM sqlite_master",0,0,0),c,"checkpointer: read");
  pthread_mutex_lock(&ckMutex);
  for(;;){
    while(ckDone==ckRequested&&!ckStop) pthread_cond_wait(&ckCond,&ckMutex);
    if(ckDone==ckRequested&&ckStop) break;
    pthread_mutex_unlock(&ckMutex);
    struct timespec a,b; clock_gettime(CLOCK_MONOTONIC,&a);
    int log=0,done=0; int rc=sqlite3_wal_checkpoint_v2(c,0,SQLITE_CHECKPOINT_PASSIVE,&log,&done);
    clock_gettime(CLOCK_MONOTONIC,&b);
    pthread_mutex_lock(&ckMutex);
    ckDone++; ckCpuWall+=(b.tv_sec-a.tv_sec)+(b.tv_nsec-a.tv_nsec)*1e-9; if(rc==SQLITE_OK&&log>0&&log==done) ckComplete++;
    pthread_cond_broadcast(&ckCond);
  }
  pthread_mutex_unlock(&ckMutex); sqlite3_close(c); return 0;
}
static double cpu(void){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_utime.tv_sec+r.ru_utime.tv_usec*1e-6+r.ru_stime.tv_sec+r.ru_stime.tv_usec*1e-6;}
static double wall(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static uint64_t mix(uint64_t x){x^=x>>33;x*=0xff51afd7ed558ccdULL;x^=x>>33;x*=0xc4ceb9fe1a85ec53ULL;x^=x>>33;return x;}
static void ck(int rc, sqlite3*db, const char*w){if(rc!=SQLITE_OK&&rc!=SQLITE_DONE&&rc!=SQLITE_ROW){fprintf(stderr,"%s: %s\n",w,sqlite3_errmsg(db));exit(1);}}
int main(int argc,char**argv){
  if(argc<7){fprintf(stderr,"probe DB N ORDER(time|user) IDS(seq|rand) BATCH SCHEMA [report_every] [cacheKiB]\n");return 2;}
  const char*path=argv[1]; long N=atol(argv[2]); int userOrder=!strcmp(argv[3],"user"); int randIds=!strcmp(argv[4],"rand");
  long batch=atol(argv[5]); const char*schema=argv[6]; long every=argc>7?atol(argv[7]):1000000; long cacheK=argc>8?atol(argv[8]):65536;
  sqlite3*db; ck(sqlite3_open(path,&db),db,"open");
  char sql[4096];
  ck(sqlite3_exec(db,"PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",0,0,0),db,"pragma");
  snprintf(sql,sizeof sql,"PRAGMA cache_size=-%ld",cacheK); ck(sqlite3_exec(db,sql,0,0,0),db,"cache");
  ck(sqlite3_exec(db,"CREATE TABLE IF NOT EXISTS events (event_id TEXT NOT NULL, pid BLOB NOT NULL CHECK (length(pid) = 16), epoch INTEGER NOT NULL, type TEXT NOT NULL, ts_ms INTEGER NOT NULL, session_pid BLOB, item_id TEXT, category TEXT, price REAL, quantity INTEGER, rating INTEGER, query TEXT, properties TEXT)",0,0,0),db,"create");
  ck(sqlite3_exec(db,schema,0,0,0),db,"schema");
  sqlite3_stmt*st; ck(sqlite3_prepare_v2(db,getenv("NOCONFLICT")?"INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)":"INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(event_id) DO NOTHING",-1,&st,0),db,"prep");
  long users=N/94; if(users<1)users=1;
  const char*types[]={"view","view","view","view","search","click","add_to_cart","checkout","purchase","review"};
  const char*cats[]={"books","garden","toys","shoes","kitchen","music","games","beauty"};
  long start=1767225600000L; double t0=wall(),c0=cpu(),tl=t0,cl=c0; long k=0;
  int hit,miss,wr,sp,hw; 
  const char*mode=getenv("CKPT")?getenv("CKPT"):"auto"; int bg=!strcmp(mode,"bg"), atEnd=!strcmp(mode,"end");
  int genOnly=getenv("GEN_ONLY")!=0;  // make and bind each row, insert nothing: the probe's own cost per row
  long shrinkK=getenv("SHRINK_KIB")?atol(getenv("SHRINK_KIB")):0; char grow[64],shrink[64];
  snprintf(grow,64,"PRAGMA cache_size=-%ld",cacheK); snprintf(shrink,64,"PRAGMA cache_size=-%ld",shrinkK);
  char wal[4200]; snprintf(wal,sizeof wal,"%s-wal",path);
  pthread_t ckThread; if(bg||atEnd) sqlite3_wal_autocheckpoint(db,0);
  if(bg) pthread_create(&ckThread,0,checkpointer,(void*)path);
  ck(sqlite3_exec(db,"BEGIN IMMEDIATE",0,0,0),db,"begin");
  for(long u=0; u<(userOrder?users:1); u++){
    for(long n=(userOrder?u:0); n<N; n+=(userOrder?users:1)){
      long user=n%users; uint64_t h=(uint64_t)n*0x9E3779B97F4A7C15ULL;
      char eid[64]; if(randIds){uint64_t a=mix(n*2+1),b=mix(n*2+2); snprintf(eid,64,"auto:%016llx%016llx",(unsigned long long)a,(unsigned long long)b);} else snprintf(eid,64,"scale-%ld",n);
      uint64_t pid[2]={mix(user*7+3),mix(user*7+5)}; uint64_t sid[2]={mix(user*13+n/users/8),mix(n/users/8*17+user)};
      long ts=start+(long)((double)n*(getenv("DAYS")?atof(getenv("DAYS")):120)*86400000.0/N);
      sqlite3_reset(st);
      sqlite3_bind_text(st,1,eid,-1,SQLITE_TRANSIENT); sqlite3_bind_blob(st,2,pid,16,SQLITE_TRANSIENT); sqlite3_bind_int64(st,3,0);
      sqlite3_bind_text(st,4,types[(h>>20)%10],-1,SQLITE_STATIC); sqlite3_bind_int64(st,5,ts); sqlite3_bind_blob(st,6,sid,16,SQLITE_TRANSIENT);
      char item[32]; snprintf(item,32,"sku-%llu",(unsigned long long)((h>>30)%5000)); sqlite3_bind_text(st,7,item,-1,SQLITE_TRANSIENT);
      sqlite3_bind_text(st,8,cats[(h>>44)%8],-1,SQLITE_STATIC); sqlite3_bind_double(st,9,(double)((h>>8)%200)); sqlite3_bind_int64(st,10,1);
      sqlite3_bind_null(st,11); sqlite3_bind_null(st,12); sqlite3_bind_null(st,13);
      if(!genOnly) ck(sqlite3_step(st),db,"step");
      k++;
      if(k%batch==0){
        ck(sqlite3_exec(db,"COMMIT",0,0,0),db,"commit");
        if(bg){pthread_mutex_lock(&ckMutex); ckRequested++; pthread_cond_broadcast(&ckCond); pthread_mutex_unlock(&ckMutex);}
        if(shrinkK){ck(sqlite3_exec(db,shrink,0,0,0),db,"shrink"); ck(sqlite3_exec(db,grow,0,0,0),db,"grow");}
        ck(sqlite3_exec(db,"BEGIN IMMEDIATE",0,0,0),db,"begin");}
      if(k%every==0){double t=wall(),c=cpu(); sqlite3_db_status(db,SQLITE_DBSTATUS_CACHE_HIT,&hit,&hw,1); sqlite3_db_status(db,SQLITE_DBSTATUS_CACHE_MISS,&miss,&hw,1); sqlite3_db_status(db,SQLITE_DBSTATUS_CACHE_WRITE,&wr,&hw,1); sqlite3_db_status(db,SQLITE_DBSTATUS_CACHE_SPILL,&sp,&hw,1);
        long req,done,full; pthread_mutex_lock(&ckMutex); req=ckRequested; done=ckDone; full=ckComplete; pthread_mutex_unlock(&ckMutex);
        printf("{\"events\":%ld,\"cpu_us_per_event\":%.3f,\"wall_us_per_event\":%.3f,\"misses_per_1k\":%.1f,\"page_writes_per_1k\":%.1f,\"spills\":%d,\"wal_bytes\":%ld,\"checkpoints\":%ld,\"queued\":%ld,\"whole\":%ld}\n",k,(c-cl)*1e6/every,(t-tl)*1e6/every,miss*1000.0/every,wr*1000.0/every,sp,fileBytes(wal),done,req-done,full); fflush(stdout); tl=t; cl=c;}
    }
  }
  ck(sqlite3_exec(db,"COMMIT",0,0,0),db,"commit");
  double tc=wall(),cc=cpu(); long walPeak=fileBytes(wal);
  // Durable here: every commit's frames are in the fsynced WAL. The copy into the database file follows.
  if(bg){pthread_mutex_lock(&ckMutex); ckStop=1; pthread_cond_broadcast(&ckCond); pthread_mutex_unlock(&ckMutex); pthread_join(ckThread,0);}
  double tq=wall(); int log=0,copied=0; ck(sqlite3_wal_checkpoint_v2(db,0,SQLITE_CHECKPOINT_PASSIVE,&log,&copied),db,"checkpoint");
  printf("{\"total_cpu_s\":%.2f,\"total_wall_s\":%.2f,\"wal_bytes_at_last_commit\":%ld,\"queued_checkpoints_wait_s\":%.2f,\"final_checkpoint_s\":%.2f,\"final_checkpoint_frames\":%d,\"after_cpu_s\":%.2f,\"checkpoints\":%ld,\"whole\":%ld,\"checkpoint_thread_wall_s\":%.2f,\"db_bytes\":%ld}\n",
    cc-c0,tc-t0,walPeak,tq-tc,wall()-tq,copied,cpu()-cc,ckDone,ckComplete,ckCpuWall,fileBytes(path));
  sqlite3_close(db); return 0;
}
